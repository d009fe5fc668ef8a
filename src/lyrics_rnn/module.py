"""LightningModule: the hidden-state policy, the loss, perplexity logging and the optimiser."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import move_data_to_device
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import Metric

from lyrics_rnn.corpus import Vocab
from lyrics_rnn.datamodule import batches_done
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models import State, build_network, detach_state
from lyrics_rnn.samplers import IGNORE

Batch = tuple[Tensor, Tensor, bool]
STAGES = ("train", "val", "test")
NEVER = 2**62  # the step of a divergence that has not happened
# grad_norm was torchmetrics' MeanMetric, whose sums a mid-epoch checkpoint of that time holds by these names.
OLD_SUM_NAMES = {"mean_value": "total", "weight": "count"}


class WeightedMean(Metric):
    """A sum of values over a sum of weights, accumulated in float64 over an epoch and all devices: the
    loss per scored character, the mean gradient norm.

    (torchmetrics' MeanMetric with nan_strategy="disable" ignores its weights, so batches of different
    sizes would count alike; a non-finite value must show in the mean, not be dropped from it; and its
    update takes ~7 tensor ops, this one two.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, total: Tensor, count: Tensor | int) -> None:
        self.total += total  # in place, so in float64
        self.count += count

    def compute(self) -> Tensor:
        return (self.total / self.count).float()


def set_rng_state(rng_state: dict[str, Any]) -> None:
    """Set the global RNGs saved in a checkpoint (those it holds)."""
    if "torch" in rng_state:
        torch.set_rng_state(rng_state["torch"].cpu())
    if "cuda" in rng_state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in rng_state["cuda"]])


def check_numbers(make: Callable | None, node: str) -> None:
    """Hydra hands a partial's settings (model.optimizer, model.scheduler) over unchecked: a number given
    as text (`model.optimizer.lr=abc`) is refused here, by name, not deep inside torch."""
    if not isinstance(make, functools.partial):
        return
    parameters = inspect.signature(make.func).parameters
    for name, value in make.keywords.items():
        default = parameters[name].default if name in parameters else None
        number = isinstance(default, int | float) and not isinstance(default, bool)
        if number and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise LyricsError(f"{node}.{name}={value!r} must be a number, e.g. {node}.{name}={default}.")


class CharLM(L.LightningModule):
    """A character language model over `vocab`, trained with truncated BPTT.

    Lightning 2 has no `truncated_bptt_steps`, so the module carries the state itself: a batch whose
    `reset` flag is set (every batch of the random sampler, the first of an epoch for the consecutive
    one) starts from zeros; any other batch starts from the previous state, detached.
    """

    def __init__(
        self,
        vocab: Iterable[str],
        cell: str,
        num_hiddens: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        embedding_dim: int | None = None,
        tie_weights: bool = False,
        embedding_dropout: float = 0.0,
        output_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        token_dropout: float = 0.0,
        ensemble: int = 1,
        compile: bool = False,
        optimizer: Callable[..., Optimizer] | None = None,
        scheduler: Callable[[Optimizer], LRScheduler] | None = None,
    ) -> None:
        super().__init__()
        # Plain values only (Hydra hands over a ListConfig): the checkpoint alone rebuilds the network and
        # its vocabulary, and loads with weights_only=True. save_hyperparameters reads these locals.
        vocab = list(vocab)
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.vocab = Vocab(vocab)
        self.net = build_network(
            cell,
            len(self.vocab),
            num_hiddens,
            num_layers,
            dropout,
            ensemble,
            embedding_dim=embedding_dim,
            tie_weights=tie_weights,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout,
            weight_dropout=weight_dropout,
            token_dropout=token_dropout,
        )
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        # Epoch means, accumulated on the device; a non-finite value shows in the mean.
        self.train_loss, self.val_loss, self.test_loss = WeightedMean(), WeightedMean(), WeightedMean()
        self.grad_norm = WeightedMean()
        # The first global step with a non-finite or exploded loss, or a non-finite gradient (NEVER: none),
        # kept on the device. Ten times the loss of a uniform guess is an explosion, not learning.
        self.register_buffer("first_bad_step", torch.tensor(NEVER), persistent=False)
        self.max_loss = min(10 * math.log(max(len(self.vocab), 2)), math.log(torch.finfo(torch.float32).max))
        self.states: dict[str, State | None] = dict.fromkeys(STAGES)
        self.rng_at_start: dict[str, Any] = {}
        self.compiled = False

    def configure_model(self) -> None:
        """model.compile: the network through torch.compile for this run (Lightning calls this before fit
        and test). Weights keep their names, so checkpoints load anywhere, and eager elsewhere."""
        if self.hparams.compile and not self.compiled:
            self.net.compile()
            self.compiled = True

    def forward(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        return self.net(inputs, state)

    def _step(self, batch: Batch, stage: str) -> tuple[Tensor, Tensor | int]:
        """The summed loss of the batch and the number of characters it scores."""
        inputs, targets, reset = batch
        state = self.states[stage]
        state = None if reset or state is None else detach_state(state)
        logits, self.states[stage] = self.net(inputs, state)
        if len(logits) != len(targets):  # an ensemble in training: its members' logits stacked
            targets = targets.repeat(len(logits) // len(targets), 1)
        # Held-out batches may end in padding (IGNORE targets): the mean is over real targets only.
        # Training windows never do, and are counted without a tensor op (every op costs ~5 us a step).
        count = targets.numel() if stage == "train" else (targets != IGNORE).sum()
        total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum")
        # Token-weighted, accumulated on the device: read once per epoch, no host sync per step.
        self._mean_loss(stage).update(total.detach(), count)
        return total, count

    def _mean_loss(self, stage: str) -> WeightedMean:
        return getattr(self, f"{stage}_loss")

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        total, count = self._step(batch, "train")
        loss = total / count
        self._note_if_bad(loss.detach(), self.max_loss)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_train_start(self) -> None:
        # Resumed mid-epoch: the restored state joins the module on its device; the RNG as it was saved.
        self.states["train"] = move_data_to_device(self.states["train"], self.device)
        set_rng_state(self.rng_at_start)
        self.rng_at_start = {}

    def on_train_epoch_end(self) -> None:
        # Runs before the checkpoint callbacks: a diverged epoch never overwrites a good checkpoint.
        self._stop_if_diverged()
        self._log_epoch("train")
        self.log("train/grad_norm", self.grad_norm.compute())
        self.grad_norm.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, stage: str) -> None:
        # compute() reduces over all devices, and every device calls it here, in the same order: no
        # collective is left to a progress bar or callback that runs on one device only.
        loss = self._mean_loss(stage).compute()
        self._mean_loss(stage).reset()
        self.log(f"{stage}/loss", loss)
        self.log(f"{stage}/ppl", loss.exp(), prog_bar=True)

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip as the Trainer says, reusing the global norm that is also logged as `train/grad_norm`."""
        # The network holds every parameter; walking the whole module (its metrics too) costs ~50 us.
        params = [p for p in self.net.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        self.grad_norm.update(norm, 1)  # logged once per epoch: a self.log per step costs milliseconds
        self._note_if_bad(norm)
        if gradient_clip_val and gradient_clip_algorithm in (None, "norm"):
            torch.nn.utils.clip_grads_with_norm_(params, gradient_clip_val, norm)
        else:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _note_if_bad(self, value: Tensor, limit: float | None = None) -> None:
        """Remember the first step with a value above `limit` (default: the largest finite number) or
        NaN, on the device: no host sync per step, three tensor ops."""
        ok = value <= (torch.finfo(value.dtype).max if limit is None else limit)  # a NaN compares False
        first = self.first_bad_step
        self.first_bad_step = torch.where(ok, first, first.clamp(max=self.global_step))

    def _stop_if_diverged(self) -> None:
        """Runs before the epoch's checkpoints are written, so none ever holds non-finite weights."""
        weights_ok = torch.stack([torch.isfinite(p).all() for p in self.parameters()]).all()
        first = self.first_bad_step
        bad = torch.where(weights_ok, first, first.clamp(max=self.global_step))
        # Every device decides alike: a bad step on any device stops them all.
        step = int(self.trainer.strategy.reduce(bad, reduce_op="min"))
        if step == NEVER:
            return
        trainer = self.trainer
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        kept = [c.best_model_path for c in trainer.checkpoint_callbacks if c.best_model_path] or ["none yet"]
        raise LyricsError(
            f"training diverged: loss above {self.max_loss:.1f}, non-finite loss, gradient or weights at epoch "
            f"{self.current_epoch + 1}, global step {step} (lr={lr}, gradient_clip_val={trainer.gradient_clip_val})."
            f" Checkpoints of earlier epochs are kept: {', '.join(kept)}. Lower model.optimizer.lr or "
            "trainer.gradient_clip_val, or check the data."
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The global RNG drives dropout: with it saved, a resumed run repeats the uninterrupted one.
        checkpoint["rng_state"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["rng_state"]["cuda"] = torch.cuda.get_rng_state_all()
        # Mid-epoch, also the carried state and the epoch's running sums: the rest of the epoch then
        # trains and logs as if never interrupted.
        if batches_done(self.trainer):
            state = self.states["train"]
            checkpoint["epoch_so_far"] = {
                "state": None if state is None else detach_state(state),
                "metrics": {
                    name: dict(getattr(self, name).metric_state) for name in ("train_loss", "grad_norm")
                },
            }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        set_rng_state(checkpoint.get("rng_state", {}))
        so_far = checkpoint.get("epoch_so_far")
        if so_far is None:
            return
        self.states["train"] = so_far["state"]
        for name, values in so_far["metrics"].items():
            metric = getattr(self, name)
            for key, value in values.items():
                key = OLD_SUM_NAMES.get(key, key)
                setattr(metric, key, value.to(self.device))
            metric._update_count = 1  # sums restored: compute() reads them without a warning
        # Lightning draws from the global RNG when it creates the data iterator, which an uninterrupted
        # run did at the start of the epoch: the saved state is set again once training starts.
        self.rng_at_start = checkpoint.get("rng_state", {})

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        if self.make_optimizer is None:
            raise LyricsError("CharLM needs an optimizer to train; set model.optimizer (see conf/model/).")
        check_numbers(self.make_optimizer, "model.optimizer")
        check_numbers(self.make_scheduler, "model.scheduler")
        try:
            optimizer = self.make_optimizer(self.parameters())
        except ValueError as error:  # torch's own checks: "Invalid learning rate: -1.0", ...
            raise LyricsError(f"model.optimizer: {error}; fix that setting.") from error
        lr = optimizer.param_groups[0]["lr"]
        if not (math.isfinite(lr) and lr > 0):
            raise LyricsError(f"model.optimizer.lr={lr} must be a finite number above 0, e.g. 1e-3.")
        if self.make_scheduler is None:
            return optimizer
        # Stepped once per epoch; a plateau schedule watches the metric checkpoints are chosen by.
        monitor = self.trainer.checkpoint_callback.monitor if self.trainer.checkpoint_callback else None
        scheduler = {"scheduler": self.make_scheduler(optimizer), "interval": "epoch", "monitor": monitor}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

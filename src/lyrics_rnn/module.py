"""LightningModule: the hidden-state policy, the loss, perplexity logging and the optimiser."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.metrics import WeightedMean
from lyrics_rnn.models import (
    NetworkConfig,
    State,
    build_network,
    detach_state,
    known_settings,
    network_config,
)
from lyrics_rnn.vocab import Vocab

Batch = tuple[Tensor, Tensor, bool]


class CharLM(L.LightningModule):
    """A character language model over `vocab`, trained with truncated BPTT.

    Lightning 2 has no `truncated_bptt_steps`, so the module carries the state itself: a batch whose
    `reset` flag is set (every batch of the random sampler, the first of an epoch for the consecutive
    one) starts from zeros; any other batch starts from the previous state, detached.

    `network` is the network's settings (`models.network_config`); the checkpoint keeps them, the
    vocabulary and the record of the corpus, so that the file alone rebuilds the model.
    """

    def __init__(
        self,
        vocab: Iterable[str],
        corpus: Mapping[str, Any] | None = None,
        optimizer: Callable[..., Optimizer] | None = None,
        scheduler: Callable[[Optimizer], LRScheduler] | None = None,
        compile: bool = False,
        **network: Any,
    ) -> None:
        super().__init__()
        self.config: NetworkConfig = network_config(**known_settings(network))
        # Plain values only (Hydra hands over ListConfigs): the checkpoint loads with weights_only=True.
        hparams = {
            "vocab": list(vocab),
            "corpus": None if corpus is None else dict(corpus),
            "compile": compile,
        }
        self.save_hyperparameters({**hparams, **vars(self.config)}, logger=False)
        self.vocab = Vocab(hparams["vocab"])
        self.net = build_network(self.config, len(self.vocab))
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        # Epoch means, accumulated on the device; a non-finite value shows in the mean.
        self.train_loss, self.val_loss, self.test_loss = WeightedMean(), WeightedMean(), WeightedMean()
        self.grad_norm = WeightedMean()
        self.states: dict[str, State | None] = {}
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
        state = self.states.get(stage)
        state = None if reset or state is None else detach_state(state)
        logits, self.states[stage] = self.net(inputs, state)
        if len(logits) != len(targets):  # an ensemble in training: its members' logits stacked
            targets = targets.repeat(len(logits) // len(targets), 1)
        # Held-out batches may end in padding (negative targets, cross_entropy's ignore_index): the mean
        # is over real targets. Training windows never do, and are counted without a tensor op.
        count = targets.numel() if stage == "train" else (targets >= 0).sum()
        total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
        # Token-weighted, accumulated on the device: read once per epoch, no host sync per step.
        self._mean_loss(stage).update(total.detach(), count)
        return total, count

    def _mean_loss(self, stage: str) -> WeightedMean:
        return getattr(self, f"{stage}_loss")

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        total, count = self._step(batch, "train")
        return total / count

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
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
        if gradient_clip_val and gradient_clip_algorithm in (None, "norm"):
            torch.nn.utils.clip_grads_with_norm_(params, gradient_clip_val, norm)
        else:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        if self.make_optimizer is None:
            raise LyricsError("CharLM needs an optimizer to train; set model.optimizer (see conf/model/).")
        optimizer = self.make_optimizer(self.parameters())
        if self.make_scheduler is None:
            return optimizer
        # Stepped once per epoch; a plateau schedule watches the metric checkpoints are chosen by.
        monitor = self.trainer.checkpoint_callback.monitor if self.trainer.checkpoint_callback else None
        scheduler = {"scheduler": self.make_scheduler(optimizer), "interval": "epoch", "monitor": monitor}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def network_settings(settings: Mapping[str, Any]) -> NetworkConfig:
    """The network's part of a model config (`model.*`) or of a checkpoint's hyperparameters: what is
    not CharLM's own argument."""
    own = set(inspect.signature(CharLM).parameters) | {"_target_"}
    return network_config(**known_settings({k: v for k, v in settings.items() if k not in own}))

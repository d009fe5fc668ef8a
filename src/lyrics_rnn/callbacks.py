"""Lightning callbacks: lyrics samples (printed and in TensorBoard), the held-out surprisal view, training speed, the divergence guard
and exact resume (the RNG, and mid-epoch the carried state and the epoch's running sums)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import move_data_to_device, rank_zero_only, rank_zero_warn
from torch import Tensor

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models import detach_state
from lyrics_rnn.reading import read
from lyrics_rnn.sampling import generate

log = logging.getLogger(__name__)


class LyricsSamples(L.Callback):
    """Every `pred_period` epochs (and after the last), continue each prefix by `pred_len` characters.

    A prefix the vocabulary cannot encode (a foreign corpus without `<unk>`) is skipped with a warning;
    with none left, the start of the held-out (or training) text is the prefix: samples never stop training.
    """

    def __init__(
        self, prefixes: Sequence[str] | str = ("分开", "不分开"), pred_len: int = 50, pred_period: int = 50
    ):
        if pred_period < 1 or pred_len < 0:
            raise LyricsError(
                f"callbacks.lyrics_samples.pred_period={pred_period} must be >= 1 and pred_len={pred_len} >= 0."
            )
        # One string is one prefix (prefixes=分开), never a list of its characters.
        self.prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        if not self.prefixes:
            raise LyricsError(
                "callbacks.lyrics_samples.prefixes=[] samples nothing; give a prefix, or leave the samples "
                "out with ~callbacks.lyrics_samples."
            )
        self.pred_len, self.pred_period = pred_len, pred_period

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        vocab = pl_module.vocab
        usable = [p for p in self.prefixes if p and (vocab.unk is not None or not vocab.unknown(p))]
        if len(usable) < len(self.prefixes):
            ids = next(trainer.datamodule.ids[n] for n in ("val", "train") if trainer.datamodule.has(n))
            usable = usable or [vocab.decode(ids[:5].tolist())]
            rank_zero_warn(
                f"lyrics samples: prefixes {self.prefixes} have characters outside this corpus's vocabulary; "
                f"sampling from {usable} instead. Set callbacks.lyrics_samples.prefixes for this corpus."
            )
        self.prefixes = usable

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.pred_period and epoch != trainer.max_epochs:
            return
        samples = [
            generate(pl_module.net, pl_module.vocab, prefix, self.pred_len) for prefix in self.prefixes
        ]
        log.info("epoch %d samples:\n%s", epoch, "\n".join(f" - {sample}" for sample in samples))
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                text = "\n\n".join(f"- {sample}" for sample in samples)
                # At the step of this epoch's scalars (Lightning logs them at the last optimizer step).
                logger.experiment.add_text("samples", text, global_step=max(trainer.global_step - 1, 0))


class SurprisalView(L.Callback):
    """Every `every_n_epochs` epochs (0: never), the start of the held-out text as the model reads it, in
    TensorBoard's text dashboard (which allows no colours): characters of `bold_bits` or more in bold,
    and the most surprising ones with the model's top guesses. The coloured view is explain.py's."""

    def __init__(self, every_n_epochs: int = 0, num_chars: int = 500, bold_bits: float = 6.0) -> None:
        if every_n_epochs < 0 or num_chars < 2:
            raise LyricsError(
                f"callbacks.surprisal_view.every_n_epochs={every_n_epochs} must be >= 0 (0: off) and "
                f"num_chars={num_chars} >= 2."
            )
        self.every_n_epochs, self.num_chars, self.bold_bits = every_n_epochs, num_chars, bold_bits

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch, data = trainer.current_epoch + 1, trainer.datamodule
        if not self.every_n_epochs or epoch % self.every_n_epochs:
            return
        part = "val" if data.has("val") else "train"
        reading = read(pl_module.net, pl_module.vocab, data.ids[part][: self.num_chars])
        shown = [escape_markdown(reading.text[0])] + [
            f"**{escape_markdown(c)}**" if b >= self.bold_bits and not c.isspace() else escape_markdown(c)
            for c, b in zip(reading.text[1:], reading.bits, strict=True)
        ]
        worst = sorted(range(len(reading.bits)), key=lambda i: -reading.bits[i])[:10]
        rows = [
            f"| {escape_markdown(reading.text[i + 1])} | {reading.bits[i]:.1f} | "
            + ", ".join(
                f"{escape_markdown(c)} {p:.0%}"
                for c, p in zip(reading.top_chars[i], reading.top_probs[i], strict=True)
            )
            + " |"
            for i in worst
        ]
        text = "\n".join(
            [
                f"{part} perplexity of these {len(reading.text)} characters: {reading.perplexity:.2f} "
                f"(bold: {self.bold_bits:g} bits or more)",
                "",
                "".join(shown),
                "",
                "| character | bits | expected |",
                "|---|---|---|",
                *rows,
            ]
        )
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text("surprisal", text, global_step=max(trainer.global_step - 1, 0))


def escape_markdown(char: str) -> str:
    return "\\" + char if char in "\\`*_{}[]()#+-.!|<>" else char


def now(device: torch.device) -> float:
    """perf_counter once the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class EpochSpeed(L.Callback):
    """Logs `time/epoch_s` and `time/chars_per_s` of each epoch's training, up to its validation pass
    (also the benchmark's clock)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start, self.stop, self.chars = now(pl_module.device), None, 0

    # A run resumed mid-epoch starts inside an epoch, without on_train_epoch_start: the clock starts here.
    on_train_start = on_train_epoch_start

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx
    ) -> None:
        self.chars += batch[1].numel()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning validates inside the training epoch, before on_train_epoch_end: stop the clock here.
        if not trainer.sanity_checking:
            self.stop = now(pl_module.device)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seconds = (self.stop or now(pl_module.device)) - self.start
        # Across devices, reduced here on every device (a sync_dist log would be reduced later by
        # whichever code reads it first, e.g. a progress bar on one device only: a hang): the slowest
        # device sets the epoch time, and the characters add up.
        strategy, device = trainer.strategy, pl_module.device
        seconds = strategy.reduce(torch.tensor(seconds, device=device, dtype=torch.float64), reduce_op="max")
        chars = strategy.reduce(torch.tensor(self.chars, device=device, dtype=torch.float64), reduce_op="sum")
        pl_module.log("time/epoch_s", seconds.float())
        pl_module.log("time/chars_per_s", (chars / seconds).float())


NEVER = 2**62  # the step of a divergence that has not happened


class DivergenceGuard(L.Callback):
    """Stops training when a step's loss is not finite or above ten times a uniform guess's (an
    explosion, not learning), a gradient norm is not finite, or at the end of an epoch a weight or the
    validation loss is not finite. It runs before that epoch's checkpoints are written (Lightning calls
    ModelCheckpoint last), so no checkpoint ever holds a diverged epoch. Per step: four tensor ops on
    the device, no host sync."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.max_loss = min(
            10 * math.log(max(len(pl_module.vocab), 2)), math.log(torch.finfo(torch.float32).max)
        )
        # Lightning hands on_train_batch_end the loss divided by the batches accumulated per step.
        self.max_step_loss = self.max_loss / trainer.accumulate_grad_batches
        self.first_bad_step: Tensor | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # A NaN compares False; the gradient norms' running sum is non-finite once any norm was.
        ok = (outputs["loss"] <= self.max_step_loss) & (
            pl_module.grad_norm.total <= torch.finfo(torch.float64).max
        )
        self.note(ok, trainer.global_step)

    def note(self, ok: Tensor, step: int) -> None:
        """Remember the first step at which `ok` was False."""
        first = self.first_bad_step
        if first is None:
            first = self.first_bad_step = torch.tensor(NEVER, device=ok.device)
        self.first_bad_step = torch.where(ok, first, first.clamp(max=step))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        weights_ok = torch.stack([torch.isfinite(p).all() for p in pl_module.parameters()]).all()
        val_loss = trainer.callback_metrics.get("val/loss")  # this epoch's, when it validated
        if val_loss is not None:
            weights_ok &= torch.isfinite(val_loss.to(weights_ok.device))
        self.note(weights_ok, trainer.global_step)
        # Every device decides alike: a bad step on any device stops them all.
        step = int(trainer.strategy.reduce(self.first_bad_step, reduce_op="min"))
        if step == NEVER:
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        kept = [c.best_model_path for c in trainer.checkpoint_callbacks if c.best_model_path] or ["none yet"]
        raise LyricsError(
            f"training diverged: loss above {self.max_loss:.1f}, non-finite loss, gradient, weights or validation loss at epoch "
            f"{trainer.current_epoch + 1}, global step {step} (lr={lr}, gradient_clip_val={trainer.gradient_clip_val})."
            f" Checkpoints of earlier epochs are kept: {', '.join(kept)}. Lower model.optimizer.lr or "
            "trainer.gradient_clip_val, or check the data."
        )


def batches_done(trainer: L.Trainer) -> int:
    """The batches of the current training epoch trained so far: 0 at an epoch's end."""
    done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    return done if done < trainer.num_training_batches else 0


def set_rng_state(rng_state: dict[str, Any]) -> None:
    """Set the global RNGs saved in a checkpoint (those it holds)."""
    if "torch" in rng_state:
        torch.set_rng_state(rng_state["torch"].cpu())
    if "cuda" in rng_state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in rng_state["cuda"]])


class ExactResume(L.Callback):
    """What a resumed run needs to repeat the uninterrupted one bit for bit. Every checkpoint keeps the
    global RNG (dropout); one written inside an epoch (`every_n_train_steps`) also keeps how many of the
    epoch's batches were trained, the carried state and the epoch's running sums, so the rest of the
    epoch trains and logs as if never interrupted."""

    SUMS = ("train_loss", "grad_norm")
    OLD_SUM_NAMES: ClassVar[dict[str, str]] = {
        "mean_value": "total",
        "weight": "count",
    }  # grad_norm was torchmetrics' MeanMetric

    def __init__(self) -> None:
        self.rng_at_start: dict[str, Any] = {}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["rng_state"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["rng_state"]["cuda"] = torch.cuda.get_rng_state_all()
        done = batches_done(trainer)
        if done:
            state = pl_module.states.get("train")
            checkpoint["epoch_so_far"] = {
                "batches_done": done,
                "state": None if state is None else detach_state(state),
                "metrics": {name: dict(getattr(pl_module, name).metric_state) for name in self.SUMS},
            }

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        set_rng_state(checkpoint.get("rng_state", {}))
        so_far = checkpoint.get("epoch_so_far")
        if so_far is None:
            return
        # Earlier versions kept the count with the data module's state.
        done = so_far.get("batches_done") or checkpoint.get("LyricsDataModule", {}).get("batches_done", 0)
        trainer.datamodule.train_sampler.resume_at(done)
        pl_module.states["train"] = so_far["state"]
        for name, values in so_far["metrics"].items():
            metric = getattr(pl_module, name)
            for key, value in values.items():
                setattr(metric, self.OLD_SUM_NAMES.get(key, key), value.to(pl_module.device))
            metric._update_count = 1  # sums restored: compute() reads them without a warning
        # Lightning draws from the global RNG when it creates the data iterator, which an uninterrupted
        # run did at the start of the epoch: the saved state is set again once training starts.
        self.rng_at_start = checkpoint.get("rng_state", {})

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.states["train"] = move_data_to_device(pl_module.states.get("train"), pl_module.device)
        set_rng_state(self.rng_at_start)
        self.rng_at_start = {}

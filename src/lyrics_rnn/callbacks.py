"""Lightning callbacks: lyrics samples (printed and in TensorBoard) and training speed."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.generate import generate

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

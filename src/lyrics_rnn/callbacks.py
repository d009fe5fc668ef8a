"""Lightning callbacks: lyrics samples (printed and in TensorBoard) and training speed."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from lyrics_rnn.generate import generate

log = logging.getLogger(__name__)


class LyricsSamples(L.Callback):
    """Every `pred_period` epochs (and after the last), continue each prefix by `pred_len` characters."""

    def __init__(
        self, prefixes: Sequence[str] = ("分开", "不分开"), pred_len: int = 50, pred_period: int = 50
    ):
        self.prefixes, self.pred_len, self.pred_period = list(prefixes), pred_len, pred_period

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
                logger.experiment.add_text("samples", text, global_step=trainer.global_step)


class EpochSpeed(L.Callback):
    """Logs `time/epoch_s` and `time/chars_per_s` of each epoch's training, up to its validation pass."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start, self.stop, self.chars = time.perf_counter(), None, 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx
    ) -> None:
        self.chars += batch[1].numel()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning validates inside the training epoch, before on_train_epoch_end: stop the clock here.
        if not trainer.sanity_checking:
            self.stop = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seconds = (self.stop or time.perf_counter()) - self.start
        # Across devices: the slowest one sets the epoch time, and the characters add up.
        pl_module.log("time/epoch_s", seconds, sync_dist=True, reduce_fx="max")
        pl_module.log("time/chars_per_s", self.chars / seconds, sync_dist=True, reduce_fx="sum")

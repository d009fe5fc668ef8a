"""Lightning callbacks: lyrics samples printed and written to TensorBoard during training."""

from __future__ import annotations

import logging
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

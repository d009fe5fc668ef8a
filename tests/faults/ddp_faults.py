"""A deliberately stuck rank for the fail-fast test: rank 1 stalls while rank 0 waits in a collective."""

import time

import lightning as L


class StalledRank(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == 1:
            time.sleep(60)

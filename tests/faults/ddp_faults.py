"""Faults for the distributed tests: a rank that stalls while rank 0 waits in a collective, a node that dies."""

import os
import signal
import time

import lightning as L


class StalledRank(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == 1:
            time.sleep(60)


class DyingNode(L.Callback):
    """The process of rank 1 (a node of its own) is killed as its second epoch starts, as a lost node is."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == 1 and trainer.current_epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

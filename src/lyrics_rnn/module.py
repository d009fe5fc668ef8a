"""LightningModule: the hidden-state policy, the loss, perplexity logging and the optimiser."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics.aggregation import MeanMetric

from lyrics_rnn.corpus import Vocab
from lyrics_rnn.models import State, build_network, detach_state

Batch = tuple[Tensor, Tensor, bool]


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
        bidirectional: bool = False,
        optimizer: Callable[..., Optimizer] | None = None,
    ) -> None:
        super().__init__()
        # Plain values only (Hydra hands over a ListConfig): the checkpoint alone rebuilds the network and
        # its vocabulary, and loads with weights_only=True. save_hyperparameters reads these locals.
        vocab = list(vocab)
        self.save_hyperparameters(ignore=["optimizer", "bidirectional"], logger=False)
        self.vocab = Vocab(vocab)
        self.net = build_network(cell, len(self.vocab), num_hiddens, num_layers, dropout, bidirectional)
        self.make_optimizer = optimizer
        self.train_loss, self.val_loss = MeanMetric(), MeanMetric()
        self.states: dict[str, State | None] = {"train": None, "val": None}

    def forward(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        return self.net(inputs, state)

    def _step(self, batch: Batch, stage: str) -> Tensor:
        inputs, targets, reset = batch
        state = self.states[stage]
        state = (
            self.net.init_state(inputs.shape[0], self.device)
            if reset or state is None
            else detach_state(state)
        )
        logits, self.states[stage] = self.net(inputs, state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        # Token-weighted, accumulated on the device: read once per epoch, no host sync per step.
        self._mean_loss(stage).update(loss.detach(), targets.numel())
        return loss

    def _mean_loss(self, stage: str) -> MeanMetric:
        return self.train_loss if stage == "train" else self.val_loss

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def _log_epoch(self, stage: str) -> None:
        loss = self._mean_loss(stage).compute()
        self._mean_loss(stage).reset()
        self.log(f"{stage}/loss", loss)
        self.log(f"{stage}/ppl", loss.exp(), prog_bar=True)

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        # Runs after backward and before Lightning clips: this is the norm the clipping acts on.
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads)
        self.log("train/grad_norm", norm, on_step=False, on_epoch=True, batch_size=1)

    def configure_optimizers(self) -> Optimizer:
        if self.make_optimizer is None:
            raise ValueError("CharLM needs an optimizer to train; set model.optimizer (see conf/model/).")
        return self.make_optimizer(self.parameters())

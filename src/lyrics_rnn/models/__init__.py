"""The networks. All share `forward(X [B, T], state) -> (logits [B, T, V], state)`; state None = zeros."""

from __future__ import annotations

from typing import Any

from torch import nn

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models.ensemble import Ensemble
from lyrics_rnn.models.recurrent import RecurrentLM
from lyrics_rnn.models.scratch import ScratchGRU, ScratchLSTM, ScratchRecurrent, ScratchRNN
from lyrics_rnn.models.state import State, detach_state

# model.cell -> a whole scratch network, or the library layer that RecurrentLM wraps.
CELLS: dict[str, type[ScratchRecurrent] | type[nn.RNNBase]] = {
    "scratch": ScratchRNN,
    "scratch_gru": ScratchGRU,
    "scratch_lstm": ScratchLSTM,
    "rnn": nn.RNN,
    "gru": nn.GRU,
    "lstm": nn.LSTM,
}


def build_network(
    cell: str,
    vocab_size: int,
    num_hiddens: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    ensemble: int = 1,
    **inputs_and_outputs: Any,
) -> nn.Module:
    """Build the network named by `cell` from plain hyperparameters (so a checkpoint can rebuild it);
    `ensemble` > 1: that many of them, each with its own initial weights."""
    if num_hiddens < 1 or num_layers < 1 or ensemble < 1:
        raise LyricsError(
            f"model.num_hiddens={num_hiddens}, model.num_layers={num_layers} and model.ensemble={ensemble} "
            "must be >= 1."
        )
    if ensemble > 1:
        args = (cell, vocab_size, num_hiddens, num_layers, dropout)
        return Ensemble([build_network(*args, **inputs_and_outputs) for _ in range(ensemble)])
    if cell not in CELLS:
        raise LyricsError(f"unknown model.cell={cell!r}; choose one of {list(CELLS)}.")
    if issubclass(CELLS[cell], nn.RNNBase):
        return RecurrentLM(CELLS[cell], vocab_size, num_hiddens, num_layers, dropout, **inputs_and_outputs)
    if num_layers != 1 or dropout or any(inputs_and_outputs.values()):
        raise LyricsError(
            f"the {cell} network has one layer, one-hot input and no dropout; use model=rnn|gru|lstm "
            "for layers, dropout, embeddings and tied weights."
        )
    return CELLS[cell](vocab_size, num_hiddens)


__all__ = [
    "CELLS",
    "Ensemble",
    "RecurrentLM",
    "ScratchGRU",
    "ScratchLSTM",
    "ScratchRNN",
    "ScratchRecurrent",
    "State",
    "build_network",
    "detach_state",
]

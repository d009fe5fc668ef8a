"""`nn.RNN` / `nn.GRU` / `nn.LSTM` on one-hot characters with a linear head: the notebook's `RNNModel`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

State = Tensor | tuple[Tensor, Tensor]

LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentLM(nn.Module):
    """A library recurrent layer (batch first) plus a dense output layer over the vocabulary."""

    def __init__(
        self, cell: str, vocab_size: int, num_hiddens: int, num_layers: int = 1, dropout: float = 0.0
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = LAYERS[cell](vocab_size, num_hiddens, num_layers, batch_first=True, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, batch_size: int, device: torch.device | None = None) -> State:
        shape = (self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        hidden = torch.zeros(shape, device=device, dtype=self.dense.weight.dtype)
        return (hidden, torch.zeros_like(hidden)) if isinstance(self.rnn, nn.LSTM) else hidden

    def forward(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        """inputs [B, T] of indices -> logits [B, T, V] and the last state (LSTM: (h, c))."""
        one_hot = F.one_hot(inputs, self.vocab_size).to(self.dense.weight.dtype)
        outputs, state = self.rnn(one_hot, state)
        return self.dense(outputs), state

"""The book's RNN written out by hand: H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h), O_t = H_t W_ho + b_o."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ScratchRNN(nn.Module):
    """The notebook's `get_params` + `rnn`, as a module with the shared `forward(X, state)` interface."""

    def __init__(self, vocab_size: int, num_hiddens: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.W_xh = nn.Parameter(torch.randn(vocab_size, num_hiddens) * init_std)
        self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * init_std)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))
        self.W_ho = nn.Parameter(torch.randn(num_hiddens, vocab_size) * init_std)
        self.b_o = nn.Parameter(torch.zeros(vocab_size))

    def init_state(self, batch_size: int, device: torch.device | None = None) -> Tensor:
        return torch.zeros(batch_size, self.W_hh.shape[0], device=device, dtype=self.W_hh.dtype)

    def forward(self, inputs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """inputs [B, T] of indices -> logits [B, T, V] and the last state [B, H]."""
        # one_hot(X) @ W_xh selects rows of W_xh: an embedding lookup does it without the [B, T, V]
        # one-hot tensor, for all steps at once, with b_h added once too.
        input_terms = F.embedding(inputs, self.W_xh) + self.b_h
        hiddens = []
        for x_t in input_terms.unbind(dim=1):
            state = torch.tanh(torch.addmm(x_t, state, self.W_hh))  # X_t W_xh + b_h + H W_hh
            hiddens.append(state)
        # The output layer does not feed back, so it runs once over all steps: H W_ho + b_o.
        outputs = torch.addmm(self.b_o, torch.stack(hiddens, dim=1).flatten(0, 1), self.W_ho)
        return outputs.view(*inputs.shape, -1), state

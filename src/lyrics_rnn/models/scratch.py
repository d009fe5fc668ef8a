"""The book's RNN written out by hand: H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h), O_t = H_t W_ho + b_o."""

from __future__ import annotations

import torch
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
        # one_hot(X) @ W_xh selects rows of W_xh: a lookup does it without the [B, T, V] one-hot tensor.
        input_terms = self.W_xh[inputs]
        hiddens = []
        for x_t in input_terms.unbind(dim=1):
            state = torch.tanh(x_t + state @ self.W_hh + self.b_h)
            hiddens.append(state)
        # The output layer does not feed back, so it runs once over all steps.
        return torch.stack(hiddens, dim=1) @ self.W_ho + self.b_o, state

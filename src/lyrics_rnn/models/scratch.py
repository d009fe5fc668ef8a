"""The book's recurrent networks written out by hand: tanh RNN, GRU and LSTM, with their parameter names."""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lyrics_rnn.models.config import NetworkConfig
from lyrics_rnn.models.state import State


class ScratchRecurrent(nn.Module):
    """What the three share: per gate g the parameters W_xg [V, H], W_hg [H, H], b_g [H] (normal init,
    std 0.01, zero biases), the loop over time, and the output layer H W + b.

    A one-hot input times W_xg selects rows of W_xg, so every gate's input term X_t W_xg + b_g is an
    embedding lookup, done for all steps at once; the output layer does not feed back, so it runs once
    over all steps too.
    """

    Config = NetworkConfig  # one layer, one-hot input, no dropout: the book's networks as they are
    gates: tuple[str, ...]
    output_names = ("W_hq", "b_q")

    def __init__(self, vocab_size: int, config: NetworkConfig, init_std: float = 0.01) -> None:
        super().__init__()
        num_hiddens = config.num_hiddens

        def normal(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) * init_std)

        for gate in self.gates:
            setattr(self, f"W_x{gate}", normal(vocab_size, num_hiddens))
            setattr(self, f"W_h{gate}", normal(num_hiddens, num_hiddens))
            setattr(self, f"b_{gate}", nn.Parameter(torch.zeros(num_hiddens)))
        weight, bias = self.output_names
        setattr(self, weight, normal(num_hiddens, vocab_size))
        setattr(self, bias, nn.Parameter(torch.zeros(vocab_size)))
        self.num_hiddens = num_hiddens

    def zero_state(self, inputs: Tensor) -> State:
        """H_0 = 0, on the device and in the dtype of the weights (any precision)."""
        weight = getattr(self, f"W_h{self.gates[0]}")
        return weight.new_zeros(inputs.shape[0], self.num_hiddens)

    def step(self, x: dict[str, Tensor], state: State) -> State:
        """One time step, given the input terms x[g] = X_t W_xg + b_g of every gate."""
        raise NotImplementedError

    def recurrence(self, terms: dict[str, Tensor], state: State) -> tuple[Tensor, State]:
        """Every step over the input terms [B, T, H] -> hidden states [B, T, H] and the last state."""
        hiddens = []
        for t in range(next(iter(terms.values())).shape[1]):
            state = self.step({g: term[:, t] for g, term in terms.items()}, state)
            hiddens.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(hiddens, dim=1), state

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs [B, T] of indices -> logits [B, T, V] and the last state (None: start from zeros)."""
        if state is None:
            state = self.zero_state(inputs)
        terms = {
            g: F.embedding(inputs, getattr(self, f"W_x{g}")) + getattr(self, f"b_{g}") for g in self.gates
        }
        hiddens, state = self.recurrence(terms, state)
        weight, bias = (getattr(self, name) for name in self.output_names)
        outputs = torch.addmm(bias, hiddens.flatten(0, 1), weight)
        return outputs.view(*inputs.shape, -1), state


class TanhRecurrence(torch.autograd.Function):
    """H_t = tanh(Z_t + H_{t-1} W_hh) for t = 1..T with backpropagation through time written out:
    two in-place operations per step each way, where autograd records and replays a graph of several
    nodes per step; W_hh's gradient is one product over all steps. Same maths, 1.36x faster here
    (forward and backward of the recurrence: `scripts/benchmark.py --recurrence`)."""

    @staticmethod
    def forward(ctx: Any, terms: Tensor, h0: Tensor, W_hh: Tensor) -> tuple[Tensor, Tensor]:
        """terms [T, B, H] (Z_t = X_t W_xh + b_h), h0 [B, H] -> hidden states [T, B, H], H_T."""
        with torch.autocast(terms.device.type, enabled=False):
            hiddens = torch.cat([h0[None].to(terms.dtype), terms])  # row t + 1 becomes H_t in place
            weight = W_hh.to(terms.dtype)
            rows = hiddens.unbind()  # views made once: indexing in the loop costs an op per step
            for before, row in itertools.pairwise(rows):
                row.addmm_(before, weight).tanh_()
        ctx.save_for_backward(hiddens, W_hh)
        return hiddens[1:], hiddens[-1].clone()

    @staticmethod
    def backward(ctx: Any, d_hiddens: Tensor, d_last: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        hiddens, W_hh = ctx.saved_tensors
        with torch.autocast(hiddens.device.type, enabled=False):
            W_t = W_hh.to(hiddens.dtype).t()
            d_terms = d_hiddens.clone()  # dL/dH_t, then dL/dZ_t
            d_terms[-1] += d_last
            tanh_grad = (1 - hiddens[1:].square()).unbind()
            d = d_terms.unbind()
            for t in range(len(d) - 1, 0, -1):
                d[t].mul_(tanh_grad[t])
                d[t - 1].addmm_(d[t], W_t)
            d[0].mul_(tanh_grad[0])
            d_h0 = d[0] @ W_t if ctx.needs_input_grad[1] else None
            d_W = hiddens[:-1].flatten(0, 1).t() @ d_terms.flatten(0, 1)
        return d_terms, d_h0, d_W.to(W_hh.dtype)


class ScratchRNN(ScratchRecurrent):
    """H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h), O_t = H_t W_ho + b_o: the notebook's `rnn`."""

    gates = ("h",)
    output_names = ("W_ho", "b_o")

    def step(self, x: dict[str, Tensor], state: Tensor) -> Tensor:
        """The equation, one step at a time: the reference that `recurrence` computes faster."""
        return torch.tanh(torch.addmm(x["h"], state, self.W_hh))

    def recurrence(self, terms: dict[str, Tensor], state: Tensor) -> tuple[Tensor, Tensor]:
        hiddens, state = TanhRecurrence.apply(terms["h"].transpose(0, 1).contiguous(), state, self.W_hh)
        return hiddens.transpose(0, 1), state


class ScratchGRU(ScratchRecurrent):
    """The book's GRU: the reset gate scales H before W_hh (nn.GRU scales H W_hn after it)."""

    gates = ("z", "r", "h")

    def step(self, x: dict[str, Tensor], H: Tensor) -> Tensor:
        Z = torch.sigmoid(torch.addmm(x["z"], H, self.W_hz))
        R = torch.sigmoid(torch.addmm(x["r"], H, self.W_hr))
        H_tilda = torch.tanh(torch.addmm(x["h"], R * H, self.W_hh))
        return Z * H + (1 - Z) * H_tilda


class ScratchLSTM(ScratchRecurrent):
    """The book's LSTM: input, forget and output gates, candidate memory C_tilda, state (H, C)."""

    gates = ("i", "f", "o", "c")

    def zero_state(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        H = super().zero_state(inputs)
        return H, torch.zeros_like(H)

    def step(self, x: dict[str, Tensor], state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        H, C = state
        I = torch.sigmoid(torch.addmm(x["i"], H, self.W_hi))  # noqa: E741
        F_ = torch.sigmoid(torch.addmm(x["f"], H, self.W_hf))
        O = torch.sigmoid(torch.addmm(x["o"], H, self.W_ho))  # noqa: E741
        C_tilda = torch.tanh(torch.addmm(x["c"], H, self.W_hc))
        C = F_ * C + I * C_tilda
        return O * torch.tanh(C), C

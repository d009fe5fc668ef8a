"""Recurrences whose gates depend on the input only (minGRU and minLSTM, Feng et al. 2024, "Were RNNs All
We Needed?"): every gate of the whole window comes from one matrix product, and what is left in time is
the elementwise linear recurrence h_t = a_t * h_{t-1} + b_t, run by `LinearScan`. Generation is the same
code one character at a time, at a constant cost per character."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lyrics_rnn.models.blocks import BlockLM
from lyrics_rnn.models.config import ScanConfig


class LinearScan(torch.autograd.Function):
    """h_t = a_t * h_{t-1} + b_t for t = 1..T, over [B, T, H], from h_0 [B, H].

    Forward: one in-place multiply-add per step on [B, H] (memory-bound, a few microseconds each).
    Backward: the same recurrence run in reverse, dL/dh_{t-1} += a_t * dL/dh_t, then the gradients of a
    and b for all steps at once (db_t = dL/dh_t, da_t = dL/dh_t * h_{t-1}). Autograd would record and
    replay several nodes per step; a log-space scan (cumsum and logcumsumexp over [B, T, H]) costs
    several passes over the whole window each way.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        """a, b [B, T, H], h0 [B, H] -> hidden states [B, T, H]."""
        hiddens = torch.cat([h0[:, None].to(b.dtype), b], dim=1).transpose(0, 1).contiguous()  # [T + 1, B, H]
        steps = a.transpose(0, 1).contiguous()
        rows = hiddens.unbind()  # views made once: indexing in the loop costs an op per step
        for before, row, gate in zip(rows, rows[1:], steps.unbind(), strict=False):
            row.addcmul_(before, gate)
        ctx.save_for_backward(steps, hiddens)
        return hiddens[1:].transpose(0, 1)

    @staticmethod
    def backward(ctx: Any, d_hiddens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        steps, hiddens = ctx.saved_tensors
        d = d_hiddens.transpose(0, 1).clone(
            memory_format=torch.contiguous_format
        )  # dL/dh_t, then all into h_t
        rows, gates = d.unbind(), steps.unbind()
        for t in range(len(rows) - 1, 0, -1):
            rows[t - 1].addcmul_(rows[t], gates[t])
        d_h0 = d[0] * steps[0]
        d_a = d * hiddens[:-1]
        return d_a.transpose(0, 1), d.transpose(0, 1), d_h0


def scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """The linear recurrence over a window (`LinearScan`), outside autocast: in the inputs' dtype."""
    with torch.autocast(b.device.type, enabled=False):
        return LinearScan.apply(a, b, h0)


class MinRecurrence(nn.Module):
    """minGRU: z = sigmoid(W_z x), h~ = W_h x, h_t = (1 - z) h_{t-1} + z h~.
    minLSTM: f = sigmoid(W_f x), i = sigmoid(W_i x), h~ = W_h x, h_t = f' h_{t-1} + i' h~ with
    f' = f / (f + i), i' = i / (f + i), so that the state keeps its scale. Both widen x to `width`
    units and project back; the state is h_T [B, width]."""

    def __init__(self, dim: int, width: int, lstm: bool) -> None:
        super().__init__()
        self.lstm, self.width = lstm, width
        self.gates = nn.Linear(dim, (3 if lstm else 2) * width, bias=False)
        self.out = nn.Linear(width, dim, bias=False)

    def forward(self, x: Tensor, h0: Tensor | None) -> tuple[Tensor, Tensor]:
        dtype = torch.promote_types(x.dtype, torch.float32)  # the recurrence in fp32 at least
        parts = self.gates(x).to(dtype).chunk(3 if self.lstm else 2, dim=-1)
        if self.lstm:
            f, i, candidate = parts
            f, i = torch.sigmoid(f), torch.sigmoid(i)
            forget, keep_in = f / (f + i), i / (f + i)
        else:
            z, candidate = parts
            keep_in = torch.sigmoid(z)
            forget = 1 - keep_in
        if h0 is None:
            h0 = x.new_zeros(x.shape[0], self.width, dtype=dtype)
        hiddens = scan(forget, keep_in * candidate, h0.to(dtype))
        return self.out(hiddens.to(x.dtype)), hiddens[:, -1]


class ScanLM(BlockLM):
    """`model=mingru` and `model=minlstm`: blocks of a min-recurrence and a feed-forward part."""

    Config = ScanConfig

    def __init__(self, vocab_size: int, config: ScanConfig) -> None:
        lstm = config.cell == "minlstm"
        mixers = [
            MinRecurrence(config.embedding_dim, config.num_hiddens, lstm) for _ in range(config.num_layers)
        ]
        super().__init__(vocab_size, config, mixers, config.ffn_dim)

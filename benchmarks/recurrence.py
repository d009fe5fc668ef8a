"""The scratch RNN's recurrence, forward and backward: `TanhRecurrence` (backpropagation through time
written out) against autograd over the book's step equation, interleaved in one process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from lyrics_rnn.models import build_network, network_config
from lyrics_rnn.models.scratch import ScratchRecurrent


def time_recurrence(rounds: int = 5, repeats: int = 30) -> dict[str, float]:
    """Median ms of forward + backward over the default batch (32 x 35 steps, 256 hidden units)."""
    torch.manual_seed(0)
    net = build_network(network_config(cell="scratch"), 1027)
    inputs = torch.randint(0, 1027, (32, 35))
    loops: dict[str, Callable] = {
        "written out": net.recurrence,
        "autograd": lambda terms, state: ScratchRecurrent.recurrence(net, terms, state),
    }

    def step(recurrence: Callable) -> None:
        net.zero_grad(set_to_none=True)
        terms = {"h": F.embedding(inputs, net.W_xh) + net.b_h}
        hiddens, _ = recurrence(terms, net.zero_state(inputs))
        hiddens.square().sum().backward()

    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, recurrence in loops.items():
            for _ in range(3):
                step(recurrence)
            start = time.perf_counter()
            for _ in range(repeats):
                step(recurrence)
            times[name].append((time.perf_counter() - start) / repeats * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}

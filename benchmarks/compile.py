"""`model.compile`: a training step (forward, loss, backward) of the default networks, eager against
torch.compile, interleaved in one process; the first compiled step's time is the compile time."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from lyrics_rnn.models import build_network, network_config


def step(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    net.zero_grad(set_to_none=True)
    logits, _ = net(inputs, None)
    F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()


def time_compile(
    cells: tuple[str, ...] = ("scratch", "lstm"), rounds: int = 5, repeats: int = 10
) -> list[str]:
    """One line per network: compile seconds, eager and compiled ms per step (medians over rounds)."""
    lines = []
    for cell in cells:
        torch.manual_seed(0)
        eager = build_network(network_config(cell=cell), 1027)
        compiled = build_network(network_config(cell=cell), 1027)
        compiled.load_state_dict(eager.state_dict())
        compiled.compile()
        batch = torch.randint(0, 1027, (32, 35)), torch.randint(0, 1027, (32, 35))

        start = time.perf_counter()
        step(compiled, *batch)
        compile_s = time.perf_counter() - start
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(rounds):
            for name, net in (("eager", eager), ("compiled", compiled)):
                step(net, *batch)
                start = time.perf_counter()
                for _ in range(repeats):
                    step(net, *batch)
                times[name].append((time.perf_counter() - start) / repeats * 1e3)
        eager_ms, compiled_ms = (statistics.median(times[name]) for name in ("eager", "compiled"))
        lines.append(
            f"{cell}: compile {compile_s:.1f} s, eager {eager_ms:.2f} ms/step, compiled {compiled_ms:.2f} "
            f"ms/step ({eager_ms / compiled_ms:.2f}x)"
        )
    return lines

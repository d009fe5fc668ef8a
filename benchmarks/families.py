"""The network families side by side at matched parameter counts (on the CPU, or `--device cuda`): training characters per second for
windows of 35 to 1,024 characters (one step after another: `nn.LSTM`, `nn.GRU`; a scan: minGRU,
minLSTM; attention: the Transformer), the share of the machine's matmul peak a training step reaches,
and generation's milliseconds per character at a context of 100 and 2,000 characters. Every arm runs
in this one process, interleaved round by round, so that a burst of other load on a shared machine
slows every arm alike; each figure is the median over the rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lyrics_rnn.models import build_network, network_config
from lyrics_rnn.sampling import generate
from lyrics_rnn.vocab import Vocab

VOCAB = 1945  # the held-out split's vocabulary (data=jaychou_heldout)
BATCH = 8
# About 1.6 M parameters each, with the input embedding (0.5 M) tied to the head.
FAMILIES = {
    "lstm": {"cell": "lstm", "num_hiddens": 384, "embedding_dim": 256, "tie_weights": True},
    "gru": {"cell": "gru", "num_hiddens": 448, "embedding_dim": 256, "tie_weights": True},
    "mingru": {"cell": "mingru", "num_layers": 2, "num_hiddens": 384, "ffn_dim": 512, "dropout": 0.0},
    "minlstm": {"cell": "minlstm", "num_layers": 2, "num_hiddens": 384, "ffn_dim": 384, "dropout": 0.0},
    "transformer": {
        "cell": "transformer",
        "num_layers": 2,
        "num_hiddens": 512,
        "dropout": 0.0,
        "memory": 2048,
    },
}
WINDOWS = (35, 70, 256, 1024)
CONTEXTS = (100, 2000)
# The products a training step at window 256 is made of (rows: 8 x 256 characters): the head, the gates,
# the feed-forward parts. The fastest of them, timed in every round beside the arms, is the peak.
PRODUCTS = ((2048, 256, 1945), (2048, 256, 768), (2048, 512, 256), (2048, 256, 1536))


def parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def training_step(
    net: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, bf16: bool = False
) -> None:
    """A forward, backward and AdamW step; with `bf16`, the forward under bf16 autocast (bf16-mixed)."""
    with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits, _ = net(inputs, None)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), inputs.roll(-1, dims=1).flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def step_flops(net: nn.Module, inputs: torch.Tensor) -> float:
    """Floating-point operations of a forward and backward pass, as torch counts them."""
    with FlopCounterMode(display=False) as counter:
        logits, _ = net(inputs, None)
        F.cross_entropy(logits.flatten(0, 1), inputs.flatten()).backward()
    net.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def seconds(run: Callable[[], object], repeats: int, device: str = "cpu") -> float:
    """Mean wall time of `run`, the device's queued work finished before each reading."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    sync()
    return (time.perf_counter() - start) / repeats


def matmul_gflop_per_s(
    shape: tuple[int, int, int], device: str, dtype: torch.dtype = torch.float32, repeats: int = 20
) -> float:
    m, k, n = shape
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    return 2 * m * k * n / seconds(lambda: a @ b, repeats, device) / 1e9


def time_families(
    rounds: int = 3, budget_s: float = 0.6, device: str = "cpu", precision: str = "32-true"
) -> dict[str, object]:
    """Per family: parameters, and per window, characters per second (median of the rounds) and GFLOP/s
    of the training step; per context, milliseconds per generated character; and the peak: the fastest
    of PRODUCTS in any round, in the precision's matmul dtype (bf16 for bf16-mixed, else fp32)."""
    bf16 = precision == "bf16-mixed"
    dtype = torch.bfloat16 if bf16 else torch.float32
    torch.manual_seed(0)
    nets = {
        name: build_network(network_config(**settings), VOCAB).to(device).train()
        for name, settings in FAMILIES.items()
    }
    optimizers = {name: torch.optim.AdamW(net.parameters(), lr=1e-4) for name, net in nets.items()}
    batches = {window: torch.randint(0, VOCAB, (BATCH, window), device=device) for window in WINDOWS}
    flops = {(name, w): step_flops(net, batches[w]) for name, net in nets.items() for w in WINDOWS}
    repeats = {}
    for name in nets:  # warm-up, and as many steps as fit in the budget
        for window in WINDOWS:
            step = seconds(
                lambda n=name, w=window: training_step(nets[n], optimizers[n], batches[w], bf16), 2, device
            )
            repeats[name, window] = max(2, int(budget_s / step))
    times: dict[tuple[str, int], list[float]] = {key: [] for key in repeats}
    peaks = []
    for _ in range(rounds):
        peaks += [matmul_gflop_per_s(shape, device, dtype) for shape in PRODUCTS]
        for window in WINDOWS:
            for name in nets:
                run = lambda n=name, w=window: training_step(nets[n], optimizers[n], batches[w], bf16)  # noqa: E731
                times[name, window].append(seconds(run, repeats[name, window], device))
    vocab = Vocab([chr(0x4E00 + i) for i in range(VOCAB)])
    generation: dict[tuple[str, int], list[float]] = {(n, c): [] for n in nets for c in CONTEXTS}
    prefixes = {c: vocab.decode(torch.randint(0, VOCAB, (c,)).tolist()) for c in CONTEXTS}
    for _ in range(rounds):
        for context in CONTEXTS:
            for name, net in nets.items():
                net.eval()
                warm = seconds(lambda n=net, c=context: generate(n, vocab, prefixes[c], 0), 1, device)
                total = seconds(lambda n=net, c=context: generate(n, vocab, prefixes[c], 50), 1, device)
                generation[name, context].append((total - warm) / 50 * 1000)
                net.train()
    families = {
        name: {
            "parameters": parameters(net),
            "training": {
                window: {
                    "chars_per_s": BATCH * window / statistics.median(times[name, window]),
                    "gflop_per_s": flops[name, window] / statistics.median(times[name, window]) / 1e9,
                }
                for window in WINDOWS
            },
            "generation_ms_per_char": {c: statistics.median(generation[name, c]) for c in CONTEXTS},
        }
        for name, net in nets.items()
    }
    return {"precision": precision, "peak_gflop_per_s": max(peaks), "families": families}


def family_table(results: dict[str, object]) -> str:
    """Characters per second per window (and the share of the matmul peak), generation per context."""
    peak_gflop_per_s = results["peak_gflop_per_s"]
    head = " | ".join(f"{w} chars/s (peak)" for w in WINDOWS)
    lines = [
        f"| family | parameters | {head} | generation ms/char at {' / '.join(map(str, CONTEXTS))} |",
        "|---" * (3 + len(WINDOWS)) + "|",
    ]
    for name, result in results["families"].items():
        cells = [
            f"{r['chars_per_s']:,.0f} ({r['gflop_per_s'] / peak_gflop_per_s:.0%})"
            for r in result["training"].values()
        ]
        generation = " / ".join(f"{ms:.2f}" for ms in result["generation_ms_per_char"].values())
        lines.append(f"| {name} | {result['parameters'] / 1e6:.2f} M | {' | '.join(cells)} | {generation} |")
    return "\n".join(lines)

"""How close to the machine's limit a model trains: the floating-point operations of one training step
(counted by torch, forward and backward) and the measured speed of the biggest product they contain."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from lyrics_rnn.datamodule import LyricsDataModule
from lyrics_rnn.samplers import windows

OUTPUT_LAYER = (1120, 256, 1027)  # batch 32 x 35 steps, 256 hidden units, the default vocabulary


def step_gflop(cfg: DictConfig, datamodule: LyricsDataModule) -> tuple[float, int]:
    """GFLOP of one training step of `cfg.model` on a batch of the default data, and its characters."""
    model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char, _convert_="all")
    starts, _ = next(iter(datamodule.train_sampler))
    inputs, targets = windows(datamodule.ids["train"], starts, datamodule.train_sampler.num_steps)
    with FlopCounterMode(display=False) as counter:
        logits, _ = model.net(inputs, None)
        F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
    return counter.get_total_flops() / 1e9, targets.numel()


def matmul_peak(device: str = "cpu", repeats: int = 50) -> dict[str, float]:
    """GFLOP/s of the output layer's product (1120 x 256 x 1027) in fp32 and bf16 on `device`."""
    m, k, n = OUTPUT_LAYER
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        for _ in range(5):
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        peaks[name] = 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e9
    return peaks

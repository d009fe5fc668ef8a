"""What this machine's processors can do, for the settings that depend on it (`trainer.precision=auto`,
`device=`)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from lyrics_rnn.errors import LyricsError

log = logging.getLogger(__name__)

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # instructions that multiply bf16 matrices natively


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()[2:]}


def auto_precision(accelerator: str) -> str:
    """bf16-mixed where the hardware computes bf16 natively (a CUDA GPU that supports it, a CPU with
    AVX512-BF16 or AMX), else 32-true: what `trainer.precision=auto` trains with."""
    on_gpu = accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
    native = torch.cuda.is_bf16_supported() if on_gpu else bool(cpu_flags() & set(BF16_CPU_FLAGS))
    precision = "bf16-mixed" if native else "32-true"
    log.info("trainer.precision=auto: %s (%s)", precision, "GPU" if on_gpu else "CPU flags")
    return precision


def resolve_device(name: str) -> torch.device:
    """`auto` is the GPU when there is one, else the CPU; anything else is a torch device name, which
    must name a device this machine has."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LyricsError(
            f"device={name!r} is not a device name; use device=cpu, cuda, cuda:1 or auto."
        ) from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise LyricsError(
            f"device={name}: torch sees {torch.cuda.device_count()} CUDA GPUs here; use device=cpu or auto."
        )
    return device

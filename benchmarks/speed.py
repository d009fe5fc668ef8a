"""Training speed of the Lightning path against a plain PyTorch loop and the notebook's code.

Each (model, sampler, arm) runs in a fresh process, so that its peak resident memory is its own. Every
arm takes the same optimizer steps on the same data (the default 10,000 characters, batch 32, 35 steps,
256 hidden units); an epoch's time is its training loop's wall time (in the Lightning arm, as the
project's EpochSpeed callback logs it).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmarks import notebook
from benchmarks.flops import step_gflop
from lyrics_rnn.allocator import use_allocator
from lyrics_rnn.callbacks import now
from lyrics_rnn.cli import quiet_libraries
from lyrics_rnn.config import register_configs
from lyrics_rnn.datamodule import LyricsDataModule
from lyrics_rnn.files import write_atomically
from lyrics_rnn.hardware import BF16_CPU_FLAGS, cpu_flags
from lyrics_rnn.models import detach_state
from lyrics_rnn.samplers import windows
from lyrics_rnn.train import train

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    model: str
    sampler: str
    arm: str
    allocator: str
    chars_per_s: float
    s_per_epoch: float
    peak_rss_mb: float
    epochs_timed: int  # per round
    chars_per_epoch: int
    minor_faults_per_epoch: float
    # Of the project's network's steps (the notebook's arm: the same maths); None for the library layers,
    # whose fused CPU kernels torch's FLOP counter does not see into.
    gflop_per_s: float | None
    round_s_per_epoch: list[float]  # each round's median epoch; s_per_epoch is the smallest


def minor_faults() -> int:
    """Page faults served without I/O so far: each one is a page the allocator gave back and took again."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


FAULTS_AT_EPOCH_EDGES: list[int] = []  # filled by EpochFaults in this (per-job) process


class EpochFaults(L.Callback):
    """Notes the minor page faults at the start and end of every training epoch."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        FAULTS_AT_EPOCH_EDGES.append(minor_faults())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        FAULTS_AT_EPOCH_EDGES.append(minor_faults())


def train_config(
    model: str, sampler: str, epochs: int, accelerator: str, out: Path, *extra: str
) -> DictConfig:
    """The project's training config on the default data, minus validation, checkpoint writing and the
    lyrics samples (they run once per 50 epochs; here they would land in a timed epoch)."""
    register_configs()
    overrides = [
        f"model={model}", f"sampler={sampler}", f"trainer.max_epochs={epochs}", f"trainer.accelerator={accelerator}",
        "data.split=[1,0,0]", "optimized_metric=train/ppl", "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false", "~callbacks.best_checkpoint", "~callbacks.last_checkpoint",
        "trainer.enable_checkpointing=false", "~callbacks.lyrics_samples",
        f"paths.root_dir={ROOT}", f"paths.output_dir={out}", *extra,
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def lightning_arm(
    model: str, sampler: str, epochs: int, device: str, precision: str
) -> tuple[list[float], int, list[int]]:
    """`train(cfg)` exactly as scripts/train.py runs it, logging and callbacks included; the epoch
    times are the project's own (`time/epoch_s` of the EpochSpeed callback, read back from the CSV log)."""
    accelerator = "gpu" if device.startswith("cuda") else "cpu"
    faults = [f"+callbacks.faults._target_={EpochFaults.__module__}.EpochFaults"]
    with tempfile.TemporaryDirectory() as out:
        extra = ["logger=csv", f"trainer.precision={precision}", *faults]
        cfg = train_config(model, sampler, epochs, accelerator, Path(out), *extra)
        train(cfg)
        rows = csv.DictReader((Path(out) / "csv" / "metrics.csv").read_text().splitlines())
        epochs = [(float(r["time/epoch_s"]), float(r["time/chars_per_s"])) for r in rows if r["time/epoch_s"]]
    edges = FAULTS_AT_EPOCH_EDGES
    return [seconds for seconds, _ in epochs], round(epochs[0][0] * epochs[0][1]), differences(edges)[::2]


def default_data(model: str, sampler: str, epochs: int) -> tuple[DictConfig, LyricsDataModule]:
    """The config the Lightning arm trains with, and its data, set up (for the arms without Lightning)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = train_config(model, sampler, epochs, "cpu", Path(out))
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup()
    return cfg, datamodule


def plain_arm(
    model: str, sampler: str, epochs: int, device: str, precision: str
) -> tuple[list[float], int, list[int]]:
    """The same maths as a hand-written PyTorch loop: same network, batches, optimizer, clipping, and
    the same precision (bf16-mixed: autocast, as Lightning does it)."""
    cfg, datamodule = default_data(model, sampler, epochs)
    L.seed_everything(cfg.seed, workers=True)
    device = torch.device(device)
    lm = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char, _convert_="all")
    net, optimizer = lm.net.to(device), lm.configure_optimizers()
    ids, sampler = datamodule.ids["train"].to(device), datamodule.train_sampler
    times, faults, chars, state = [], [], 0, None
    for epoch in range(epochs):
        times.append(now(device))
        faults.append(minor_faults())
        sampler.set_epoch(epoch)
        total = torch.zeros((), device=device)
        for starts, reset in sampler:
            inputs, targets = windows(ids, starts.to(device), sampler.num_steps)
            state = None if reset or state is None else detach_state(state)
            with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16-mixed"):
                logits, state = net(inputs, state)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.trainer.gradient_clip_val)
            optimizer.step()
            total += loss.detach()
            chars += targets.numel()
        total.item()  # the loop reads its loss once per epoch, like the Lightning module
    times.append(now(device))
    faults.append(minor_faults())
    return differences(times), chars // epochs, differences(faults)


def notebook_arm(
    model: str, sampler: str, epochs: int, device: str, precision: str
) -> tuple[list[float], int, list[int]]:
    """The notebook's own scratch-RNN loop (CPU only and fp32, as written), on the same characters."""
    cfg, datamodule = default_data(model, sampler, epochs)
    corpus_indices, vocab_size = datamodule.ids["train"].tolist(), len(datamodule.vocab)
    batch_size, num_steps = cfg.sampler.batch_size, cfg.sampler.num_steps
    params = notebook.get_params(vocab_size, cfg.model.num_hiddens, vocab_size)
    times, faults = [], []
    for _ in range(epochs):
        times.append(time.perf_counter())
        faults.append(minor_faults())
        notebook.train_epoch(params, corpus_indices, vocab_size, sampler == "random", cfg.model.num_hiddens,
                             num_steps, 0.5, cfg.trainer.gradient_clip_val, batch_size)  # fmt: skip
    times.append(time.perf_counter())
    faults.append(minor_faults())
    return differences(times), len(datamodule.train_sampler) * batch_size * num_steps, differences(faults)


ARMS: dict[str, Callable[[str, str, int, str, str], tuple[list[float], int, list[int]]]] = {
    "lightning": lightning_arm,
    "plain": plain_arm,
    "notebook": notebook_arm,
}


def differences(marks: list) -> list:
    return [end - start for start, end in itertools.pairwise(marks)]


def measure(
    model: str, sampler: str, arm: str, allocator: str, epochs: int, warmup: int, device: str, precision: str
) -> tuple[list[float], int, float, float]:
    """Runs in a fresh process: one arm for `warmup + epochs` epochs, with `allocator` applied as every
    entry point applies it. Returns the timed epochs' seconds, the characters per epoch, the process's
    peak resident memory in MB and the minor page faults per timed epoch."""
    use_allocator(allocator)
    quiet_libraries()
    torch.manual_seed(0)
    seconds, chars, faults = ARMS[arm](model, sampler, warmup + epochs, device, precision)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds[warmup:], chars, peak_mb, statistics.mean(faults[warmup:])


def machine(device: str) -> dict[str, object]:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    wanted = ("avx2", "avx512f", *BF16_CPU_FLAGS, "amx_tile")
    return {
        "cpu": cpu,
        "flags": " ".join(flag for flag in wanted if flag in cpu_flags()),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
    }


def run_all(
    jobs: list[tuple[str, str, str, str]], epochs: int, warmup: int, device: str, rounds: int, precision: str
) -> list[Result]:
    """Every job (model, sampler, arm, allocator) in its own spawned process, one at a time, all jobs
    once per round.

    Rounds interleave the arms, so that a burst of load on a shared machine hits them alike. Each
    result is the median epoch of the arm's least disturbed round: another program's load only ever
    adds time (timeit's advice: the fastest repeat), and on these VMs a burst lasts long enough to
    slow most of a round, which a median over all rounds' epochs then reports as the arm's speed.
    """
    seconds: dict[tuple[str, ...], list[float]] = {job: [] for job in jobs}  # round medians
    faults: dict[tuple[str, ...], list[float]] = {job: [] for job in jobs}
    chars, peak = {}, dict.fromkeys(jobs, 0.0)
    for round_ in range(rounds):
        for job in jobs:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                timed, chars[job], peak_mb, job_faults = pool.submit(
                    measure, *job, epochs, warmup, device, precision
                ).result()
            seconds[job].append(statistics.median(timed))
            faults[job].append(job_faults)
            peak[job] = max(peak[job], peak_mb)
            print(
                f"round {round_ + 1}: {' '.join(job):38s} {seconds[job][-1]:7.3f} s/epoch "
                f"{job_faults:9.0f} faults/epoch",
                flush=True,
            )
    results, flops = [], {}
    for job in jobs:
        model, sampler = job[:2]
        s_per_epoch = min(seconds[job])
        gflop_per_s = None
        if model.startswith("scratch"):
            if (model, sampler) not in flops:
                flops[model, sampler] = step_gflop(*default_data(model, sampler, 1))
            gflop_per_step, chars_per_step = flops[model, sampler]
            gflop_per_s = gflop_per_step * chars[job] / chars_per_step / s_per_epoch
        results.append(
            Result(*job, chars[job] / s_per_epoch, s_per_epoch, peak[job], epochs, chars[job],
                   statistics.mean(faults[job]), gflop_per_s, seconds[job])
        )  # fmt: skip
    return results


def table(results: list[Result]) -> str:
    head = [
        "model",
        "sampler",
        "arm",
        "allocator",
        "s/epoch",
        "chars/s",
        "peak MB",
        "faults/epoch",
        "GFLOP/s",
    ]
    lines = ["{:12s} {:12s} {:10s} {:9s} {:>8s} {:>9s} {:>8s} {:>12s} {:>8s}".format(*head)]
    lines += [
        f"{r.model:12s} {r.sampler:12s} {r.arm:10s} {r.allocator:9s} {r.s_per_epoch:8.3f} {r.chars_per_s:9.0f} "
        f"{r.peak_rss_mb:8.0f} {r.minor_faults_per_epoch:12.0f} "
        f"{'n/a' if r.gflop_per_s is None else f'{r.gflop_per_s:.1f}':>8s}"
        for r in results
    ]
    return "\n".join(lines)


def write_report(results: list[Result], info: dict[str, object], folder: Path) -> Path:
    """outputs/benchmark/<timestamp>.json and latest.json, each written atomically."""
    text = json.dumps(
        {"machine": info, "results": [asdict(r) for r in results]}, indent=2, ensure_ascii=False
    )
    path = folder / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
    for target in (path, folder / "latest.json"):
        write_atomically(target, lambda file: file.write(text.encode()))
    return path


def ratios(results: list[Result]) -> list[str]:
    """Lightning / plain, Lightning / notebook and tuned / system allocator speed ratios, one line each."""
    by_key = {(r.model, r.sampler, r.arm, r.allocator): r for r in results}
    lines = []
    for (model, sampler, arm, allocator), result in by_key.items():
        speed = result.chars_per_s
        plain = by_key.get((model, sampler, "plain", allocator))
        if arm == "lightning" and plain:
            lines.append(
                f"{model} {sampler} {allocator}: lightning / plain = {speed / plain.chars_per_s:.2f}x"
            )
        ours = by_key.get((model, sampler, "lightning", allocator))
        if arm == "notebook" and ours:
            lines.append(
                f"{model} {sampler} {allocator}: lightning / notebook = {ours.chars_per_s / speed:.2f}x"
            )
        system = by_key.get((model, sampler, arm, "system"))
        if allocator == "tuned" and system:
            lines.append(
                f"{model} {sampler} {arm}: tuned / system allocator = {speed / system.chars_per_s:.2f}x"
            )
    return lines

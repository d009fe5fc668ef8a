"""Training speed: Lightning vs a plain PyTorch loop vs the notebook, `python scripts/benchmark.py [--quick]`;
start-up on a large generated corpus, `python scripts/benchmark.py --data 100`; the scratch RNN's
recurrence alone, `python scripts/benchmark.py --recurrence`; torch.compile, `--compile`; the network
families side by side (LSTM, GRU, minGRU, minLSTM, Transformer) for windows of 35 to 1,024, `--families`;
the studio's generation and reading on a checkpoint, `--studio CKPT`."""

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ is a developer tool beside the package, not inside it

from benchmarks.compile import time_compile  # noqa: E402
from benchmarks.data import run_data  # noqa: E402
from benchmarks.families import family_table, time_families  # noqa: E402
from benchmarks.flops import matmul_peak  # noqa: E402
from benchmarks.recurrence import time_recurrence  # noqa: E402
from benchmarks.speed import machine, ratios, run_all, table, write_report  # noqa: E402
from benchmarks.studio import time_studio  # noqa: E402
from lyrics_rnn.files import write_atomically  # noqa: E402
from lyrics_rnn.hardware import auto_precision  # noqa: E402
from lyrics_rnn.models import NETWORKS  # noqa: E402


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= low (a bad one is argparse's one-line usage error)."""

    def parse(text: str) -> int:
        if not text.lstrip("-").isdigit() or int(text) < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= {low}")
        return int(text)

    return parse


def device_name(text: str) -> str:
    """An argparse type: cpu, or cuda[:N] where torch sees a CUDA device."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r}: the benchmark times cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: torch sees no CUDA device here; use --device cpu")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="scratch and lstm, random sampler, few epochs")
    parser.add_argument("--epochs", type=at_least(1), help="timed epochs per run (default 5, quick 3)")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="untimed epochs first (default 1)")
    parser.add_argument(
        "--rounds", type=at_least(1), default=2, help="times each arm is run, interleaved (default 2)"
    )
    parser.add_argument(
        "--device",
        type=device_name,
        default="cpu",
        help="cpu or cuda (the notebook arm runs on the CPU only)",
    )
    parser.add_argument(
        "--allocator",
        choices=["tuned", "system", "both"],
        default="tuned",
        help="glibc settings (default tuned)",
    )
    parser.add_argument(
        "--precision",
        choices=["32-true", "bf16-mixed", "auto"],
        default="32-true",
        help="as trainer.precision; auto: bf16-mixed where the CPU has bf16 (default 32-true)",
    )
    parser.add_argument(
        "--data",
        type=at_least(1),
        metavar="MB",
        help="instead: start-up of a generated corpus of MB megabytes",
    )
    parser.add_argument(
        "--recurrence", action="store_true", help="instead: the scratch RNN's recurrence, two ways"
    )
    parser.add_argument(
        "--compile", action="store_true", help="instead: a training step eager and through torch.compile"
    )
    parser.add_argument(
        "--families", action="store_true", help="instead: every network family, windows of 35 to 1,024"
    )
    parser.add_argument(
        "--studio", metavar="CKPT", help="instead: the studio's write and read speed on this checkpoint"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmark")
    args = parser.parse_args()
    try:  # the results must have somewhere to go before minutes of measuring
        args.out.mkdir(parents=True, exist_ok=True)
        write_atomically(args.out / ".writable", lambda file: file.write(b""))
        (args.out / ".writable").unlink()
    except OSError as error:
        parser.error(f"--out {args.out} cannot be written ({error.strerror}); choose a writable folder")
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    precision = auto_precision(args.device) if args.precision == "auto" else args.precision
    if args.data:
        print(f"machine: {machine('cpu')}")
        print("\n".join(run_data(args.data, args.out / "data")))
        return
    if args.compile:
        print(f"machine: {machine('cpu')}")
        print("\n".join(time_compile()))
        return
    if args.studio:
        info = machine("cpu")
        print(f"machine: {info}")
        results = time_studio(args.studio, args.rounds)
        print("\n".join(f"{name}: {value:,.1f}" for name, value in results.items()))
        out = args.out / "studio.json"
        write_atomically(
            out, lambda file: file.write(json.dumps({"machine": info, **results}, indent=2).encode())
        )
        print(f"wrote {out}")
        return
    if args.families:
        info = machine(args.device)
        print(f"machine: {info}")
        results = time_families(args.rounds, device=args.device, precision=precision)
        print(family_table(results))
        print(
            f"{precision} matmul peak (the fastest of the step's products in any round): "
            f"{results['peak_gflop_per_s']:.1f} GFLOP/s"
        )
        out = args.out / "families.json"
        write_atomically(
            out, lambda file: file.write(json.dumps({"machine": info, "results": results}, indent=1).encode())
        )
        print(f"written: {out}")
        return
    if args.recurrence:
        print(f"machine: {machine('cpu')}")
        times = time_recurrence()
        print("\n".join(f"{name}: {ms:.2f} ms forward + backward" for name, ms in times.items()))
        print(f"speed-up: {times['autograd'] / times['written out']:.2f}x")
        return

    models = ["scratch", "lstm"] if args.quick else list(NETWORKS)
    samplers = ["random"] if args.quick else ["random", "consecutive"]
    epochs = args.epochs or (3 if args.quick else 5)
    allocators = ["tuned", "system"] if args.allocator == "both" else [args.allocator]
    jobs = [
        (model, sampler, arm, allocator)
        for model in models
        for sampler in samplers
        for arm in (
            "lightning",
            "plain",
            *(["notebook"] if model == "scratch" and args.device == "cpu" else []),
        )
        for allocator in allocators
    ]
    info = {**machine(args.device), "matmul_peak_gflop_per_s": matmul_peak(args.device)}
    print(f"machine: {info}")
    info["precision"] = precision
    print(f"precision: {precision}")
    results = run_all(jobs, epochs, args.warmup, args.device, args.rounds, precision)
    print(table(results))
    print("\n".join(ratios(results)))
    print(f"written: {write_report(results, info, args.out)} and latest.json")


if __name__ == "__main__":
    main()

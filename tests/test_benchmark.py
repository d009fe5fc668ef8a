"""The benchmark script runs and writes the documented JSON (its figures are not checked here: timings
belong to benchmark runs, not tests)."""

import json
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, compose_config, run_script, tiny_overrides

from benchmarks import notebook
from benchmarks.studio import time_studio
from lyrics_rnn.train import train


@pytest.mark.slow
def test_quick_benchmark_writes_the_report(real_corpus, tmp_path):
    args = ["--quick", "--epochs", "1", "--warmup", "0", "--rounds", "1", "--out", str(tmp_path)]
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), *args],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert {"cpu", "flags", "cores", "torch", "device", "precision", "matmul_peak_gflop_per_s"} <= latest[
        "machine"
    ].keys()
    arms = {(r["model"], r["arm"]) for r in latest["results"]}
    assert arms == {("scratch", "lightning"), ("scratch", "plain"), ("scratch", "notebook"),
                    ("lstm", "lightning"), ("lstm", "plain")}  # fmt: skip
    for row in latest["results"]:
        assert row["sampler"] == "random" and row["chars_per_epoch"] == 8 * 32 * 35
        assert 1_000 < row["chars_per_s"] < 10_000_000 and 0 < row["s_per_epoch"] < 60  # a real timing
        assert row["peak_rss_mb"] > 100 and row["allocator"] == "tuned" and row["minor_faults_per_epoch"] >= 0
        assert row["round_s_per_epoch"] == [row["s_per_epoch"]]  # one round: its median is the figure
        if row["model"] == "scratch":  # counted; the library layers' fused kernels are not
            assert 1 < row["gflop_per_s"] < 10 * latest["machine"]["matmul_peak_gflop_per_s"]["fp32"]
        else:
            assert row["gflop_per_s"] is None
    assert len(list(tmp_path.glob("20*.json"))) == 1
    assert "lightning / plain" in result.stdout and "lightning / notebook" in result.stdout


def test_notebook_baseline_still_has_its_bugs():
    """The baseline must stay the notebook's code: its clipping sums per-tensor norms."""
    params = [torch.zeros(3, requires_grad=True), torch.zeros(4, requires_grad=True)]
    params[0].grad, params[1].grad = torch.tensor([3.0, 0, 0]), torch.tensor([4.0, 0, 0, 0])
    notebook.grad_clipping(params, theta=1.0)
    # Sum of norms = 7 (not the global 5): each gradient is scaled by 1/7.
    assert params[0].grad[0].item() == pytest.approx(3 / 7)


@pytest.mark.parametrize(("option", "value"), [("--rounds", "0"), ("--epochs", "x"), ("--warmup", "-1")])
def test_counts_below_their_minimum_are_a_usage_error(option, value, tmp_path):
    result = run_script("benchmark.py", option, value, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {option}: '{value}' is not an integer" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--device", "foo", "is not a device"),
        ("--device", "mps", "the benchmark times cpu or cuda"),
        ("--precision", "16-mixed", "invalid choice"),
        pytest.param(
            "--device",
            "cuda",
            "no CUDA device",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="GPU"),
        ),
    ],
)
def test_devices_and_precisions_it_cannot_time_are_a_usage_error(option, value, fragment, tmp_path):
    result = run_script("benchmark.py", option, value, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {option}: " in result.stderr.splitlines()[-1] and fragment in result.stderr


def test_studio_benchmark_measures_every_arm(tiny_corpus, tmp_path):
    train(compose_config("train", *tiny_overrides(tiny_corpus, tmp_path / "run")))
    figures = time_studio(str(tmp_path / "run" / "checkpoints" / "last.ckpt"), rounds=1, num_chars=200)
    for name in ("generate.py loop, chars/s", "studio write via HTTP API, chars/s"):
        assert 10 < figures[name] < 10_000_000  # a real timing
    assert 0 < figures["studio write via HTTP API, first character ms"] < 60_000
    assert [name for name in figures if name.startswith("read of ")] == [
        "read of 269 characters in-process, ms",  # the tiny corpus's training part
        "read of 269 characters via HTTP API, ms",
    ]


def test_family_benchmark_times_every_family_and_window(monkeypatch):
    from benchmarks import families

    monkeypatch.setattr(families, "WINDOWS", (8, 16))
    monkeypatch.setattr(families, "CONTEXTS", (5,))
    results = families.time_families(rounds=1, budget_s=0.0, precision="bf16-mixed")
    assert results["precision"] == "bf16-mixed" and results["peak_gflop_per_s"] > 0
    assert list(results["families"]) == list(families.FAMILIES)
    for family in results["families"].values():
        assert 1.4e6 < family["parameters"] < 1.9e6  # matched sizes
        assert list(family["training"]) == [8, 16]
        assert all(window["chars_per_s"] > 0 for window in family["training"].values())
        assert family["generation_ms_per_char"][5] > 0
    assert families.family_table(results).count("\n") == 1 + len(families.FAMILIES)

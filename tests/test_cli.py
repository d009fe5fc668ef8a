"""The command line as a user types it, in subprocesses."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT, events, tiny_overrides

SCRIPT = str(ROOT / "scripts" / "train.py")


def run(*args, cwd):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def cli_overrides(corpus, out):
    """The tiny overrides, with output folders left to Hydra (named by time, model and sampler)."""
    return [o for o in tiny_overrides(corpus, out) if not o.startswith("paths.output_dir")]


def test_single_run_gets_its_own_named_folder(tiny_corpus, tmp_path):
    result = run(*cli_overrides(tiny_corpus, tmp_path), "model=gru", "sampler=consecutive", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = tmp_path.glob("*_gru_consecutive")
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "train.log").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert "samples" in (run_dir / "train.log").read_text(encoding="utf-8")


def test_multirun_runs_each_job_in_its_own_folder(tiny_corpus, tmp_path):
    result = run(
        "-m",
        *cli_overrides(tiny_corpus, tmp_path),
        "model=scratch,lstm",
        "sampler=random",
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    jobs = sorted(p.name for p in tmp_path.glob("multirun/*/*_*_random"))
    assert jobs == ["0_scratch_random", "1_lstm_random"]
    for job in tmp_path.glob("multirun/*/*_*_random"):
        assert (job / "checkpoints" / "last.ckpt").is_file()


def test_two_device_ddp_matches_one_device(tiny_corpus, tmp_path):
    """Rows of each batch are split over two CPU processes; the averaged gradient is one device's."""
    args = [
        *cli_overrides(tiny_corpus, tmp_path),
        "model=lstm",
        "sampler=consecutive",
        "sampler.batch_size=4",
    ]
    curves = []
    for trainer in ("cpu", "ddp"):
        out = tmp_path / trainer
        result = run(
            *args, f"trainer={trainer}", "trainer.accelerator=cpu", f"hydra.run.dir={out}", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        curves.append([event.value for event in events(out).Scalars("train/ppl")])
    assert len(curves[0]) == 2
    assert curves[0] == pytest.approx(curves[1], rel=1e-5)


def test_unknown_model_lists_the_choices(tmp_path):
    result = run("model=transformer", cwd=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'model/transformer'" in result.stderr
    assert all(name in result.stderr for name in ("scratch", "rnn", "gru", "lstm"))


def test_bidirectional_is_refused_before_training(tiny_corpus, tmp_path):
    result = run(
        *cli_overrides(tiny_corpus, tmp_path), "model=lstm", "model.bidirectional=true", cwd=tmp_path
    )
    assert result.returncode != 0 and "sees the next character" in result.stderr

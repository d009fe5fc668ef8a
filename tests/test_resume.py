"""Exact resume from last.ckpt, and a run killed mid-epoch that resumes and finishes."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import ROOT, cli_overrides, events, tiny_overrides

from lyrics_rnn.checkpoint import CheckpointError, read_checkpoint
from lyrics_rnn.train import train


def curve(run_dir, tag):
    return [(event.step, event.value) for event in events(run_dir).Scalars(tag)]


@pytest.mark.parametrize(
    "model",
    [["model=lstm", "model.num_layers=2", "model.dropout=0.3", "sampler=random"], ["sampler=consecutive"]],
)
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(compose_train, tmp_path, model):
    whole, first, second = tmp_path / "whole", tmp_path / "first", tmp_path / "second"
    train(compose_train(*model, "trainer.max_epochs=4", out=whole))
    train(compose_train(*model, "trainer.max_epochs=2", out=first))
    last = first / "checkpoints" / "last.ckpt"
    train(compose_train(*model, "trainer.max_epochs=4", f"ckpt_path={last}", out=second))

    expected = read_checkpoint(whole / "checkpoints" / "last.ckpt")["state_dict"]
    resumed = read_checkpoint(second / "checkpoints" / "last.ckpt")["state_dict"]
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)
    for tag in ("train/ppl", "val/ppl", "train/grad_norm"):
        assert curve(whole, tag)[2:] == curve(second, tag)  # epochs 3 and 4, same steps, same values
        assert curve(whole, tag)[:2] == curve(first, tag)


STEP_CHECKPOINTS = (
    "+callbacks.steps._target_=lightning.pytorch.callbacks.ModelCheckpoint",
    "+callbacks.steps.every_n_train_steps=5",
    "+callbacks.steps.save_top_k=-1",
    "+callbacks.steps.filename='step{step}'",
    "+callbacks.steps.auto_insert_metric_name=false",
)


@pytest.mark.parametrize(
    "model",
    [
        ["model=lstm", "model.dropout=0.3", "model.num_layers=2", "sampler=random"],
        ["model=lstm", "model.dropout=0.3", "model.num_layers=2", "sampler=consecutive"],
        ["model=mingru", "model.embedding_dim=16", "sampler=consecutive"],
        ["model=transformer", "model.embedding_dim=16", "model.memory=8", "sampler=consecutive"],
    ],
)
def test_a_mid_epoch_checkpoint_resumes_at_the_next_batch_bit_for_bit(compose_train, tmp_path, model):
    """Checkpoints every 5 steps (epochs of 14 batches); resumed from step 5, in the first epoch, the
    run ends with the uninterrupted run's weights and logs its per-epoch values (the carried state, the
    epoch's running sums and the dropout RNG travel in the checkpoint)."""
    whole, second = tmp_path / "whole", tmp_path / "second"
    train(compose_train(*model, *STEP_CHECKPOINTS, "trainer.max_epochs=2", out=whole))
    mid = whole / "checkpoints" / "step5.ckpt"
    assert read_checkpoint(mid)["epoch_so_far"]["batches_done"] == 5
    train(compose_train(*model, "trainer.max_epochs=2", f"ckpt_path={mid}", out=second))
    expected = read_checkpoint(whole / "checkpoints" / "last.ckpt")["state_dict"]
    resumed = read_checkpoint(second / "checkpoints" / "last.ckpt")["state_dict"]
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)
    for tag in ("train/ppl", "val/ppl", "train/grad_norm"):
        assert curve(whole, tag) == curve(second, tag)


def test_missing_resume_checkpoint_is_a_clear_error(compose_train, tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        train(compose_train(f"ckpt_path={tmp_path / 'nope.ckpt'}"))


@pytest.mark.slow
def test_killed_run_resumes_without_losing_a_completed_epoch(tiny_corpus, tmp_path):
    """SIGKILL while epochs run (each about a second), then resume from last.ckpt to the end."""
    overrides = [
        *[o for o in tiny_overrides(tiny_corpus, tmp_path) if not o.startswith("paths.output_dir")],
        "model=lstm", "model.num_hiddens=512", "sampler.batch_size=2", "sampler.num_steps=4",
        "trainer.max_epochs=6",
    ]  # fmt: skip
    script = str(ROOT / "scripts" / "train.py")
    killed, resumed = tmp_path / "killed", tmp_path / "resumed"
    last = killed / "checkpoints" / "last.ckpt"
    process = subprocess.Popen([sys.executable, script, *overrides, f"hydra.run.dir={killed}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (last.exists() and read_checkpoint(last)["epoch"] >= 1):
        assert process.poll() is None and time.monotonic() < deadline, (
            "the run ended before it could be killed"
        )
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    completed = read_checkpoint(last)["epoch"] + 1  # a whole, readable checkpoint: the save is atomic
    assert 2 <= completed < 6

    result = subprocess.run([sys.executable, script, *overrides, f"ckpt_path={last}", f"hydra.run.dir={resumed}"],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert read_checkpoint(resumed / "checkpoints" / "last.ckpt")["epoch"] == 5
    steps_per_epoch = read_checkpoint(last)["global_step"] // completed
    epochs_logged = [
        (step + 1) // steps_per_epoch for step, _ in curve(resumed, "train/ppl")
    ]  # step: 0-based
    assert epochs_logged == list(range(completed + 1, 7))  # picks up right after the last completed epoch


def test_a_run_stopped_by_sigterm_exits_non_zero_and_says_where_to_resume(tiny_corpus, tmp_path):
    """SIGTERM is how schedulers, `timeout` and containers stop a job: status 143 and one line naming the
    checkpoint to resume from, not the 0 of a finished run."""
    overrides = [
        *cli_overrides(tiny_corpus, tmp_path),
        "model=lstm",
        "model.num_hiddens=256",
        "trainer.max_epochs=200",
    ]
    run_dir = tmp_path / "stopped"
    last = run_dir / "checkpoints" / "last.ckpt"
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not last.exists():
        assert process.poll() is None and time.monotonic() < deadline, (
            "the run ended before it could be stopped"
        )
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 143, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith("error: training stopped by SIGTERM in epoch ")
    assert f"resume with ckpt_path={last}." in stderr and "Traceback" not in stderr

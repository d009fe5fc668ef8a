"""Checkpoints: atomic writes, safe reads, generation and evaluation from the file alone, divergence."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from helpers import ROOT, compose_config, events, tiny_overrides

from lyrics_rnn.checkpoint import (
    AtomicCheckpointIO,
    CheckpointError,
    load_model,
    read_checkpoint,
    training_parts,
)
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import run as evaluate
from lyrics_rnn.files import write_atomically
from lyrics_rnn.sampling import generate
from lyrics_rnn.train import train


@pytest.fixture
def trained(compose_train, tmp_path):
    """The run folder of a tiny GRU trained for two epochs."""
    train(compose_train("model=gru"))
    return tmp_path / "run"


class Payload:
    """Unpickling this runs code: it creates the file named in it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker, evil = tmp_path / "pwned", tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": {"vocab": ["a"]}, "state_dict": Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        load_model(evil)
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()


def test_truncated_foreign_and_missing_files_are_refused(trained, tmp_path):
    data = (trained / "checkpoints" / "last.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_model(truncated)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a lyrics-rnn checkpoint"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="checkpoint not found.*ckpt_path="):
        load_model(tmp_path / "nope.ckpt")


def test_a_failed_save_leaves_the_good_checkpoint_in_place(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"hyper_parameters": {"vocab": ["a"]}, "epoch": 1}, path)

    def dies_half_way(obj, file):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # as a kill would, mid-write

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"hyper_parameters": {"vocab": ["a"]}, "epoch": 2}, path)
    assert read_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["last.ckpt"]


def test_model_from_checkpoint_generates_what_the_trained_one_did(compose_train, tmp_path):
    """The greedy samples logged at the end of training come back from the checkpoint file alone."""
    train(compose_train("model=lstm", "callbacks.lyrics_samples.pred_len=20"))
    model = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    logged = events(tmp_path / "run").Tensors("samples/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert f"- {generate(model.net, model.vocab, '分开', 20)}" in logged.split("\n\n")


def test_a_checkpoint_whose_corpus_is_gone_says_so(compose_train, tiny_corpus, tmp_path):
    corpus = tmp_path / "moved.txt"
    shutil.copy(tiny_corpus, corpus)
    train(compose_train(f"data.path={corpus}", "trainer.max_epochs=1"))
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert len(training_parts(checkpoint)["val"])
    corpus.unlink()
    with pytest.raises(CheckpointError, match=r"moved.txt, which is not there any more; put the corpus back"):
        training_parts(checkpoint)


FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize(("name", "test_ppl"), [("lstm_v0.1.pt", 20.25), ("scratch_v0.1.pt", 15.66)])
def test_a_checkpoint_of_the_earlier_layout_loads_evaluates_and_resumes(
    name, test_ppl, monkeypatch, tmp_path
):
    """Written by version 0.1 (tests/fixtures/README.md): every setting of every family in its
    hyperparameters, its corpus under the data module's class name. The test perplexity it logged then
    is what evaluate prints now; it resumes into a run of the same settings."""
    monkeypatch.chdir(ROOT)  # its corpus is recorded as tests/fixtures/tiny.txt
    model = load_model(FIXTURES / name)
    assert generate(model.net, model.vocab, "分开", 5).startswith("分开")
    score = evaluate(compose_config("evaluate", f"ckpt_path={FIXTURES / name}", "split=test", "num_steps=5"))
    assert round(score, 2) == test_ppl
    with pytest.raises(
        LyricsError, match=r"split=train names no held-out part .*data.split=\[0.6, 0.2, 0.2\]\)"
    ):
        evaluate(compose_config("evaluate", f"ckpt_path={FIXTURES / name}", "split=train"))
    cell = name.split("_")[0]
    overrides = tiny_overrides(FIXTURES / "tiny.txt", tmp_path)
    cfg = compose_config("train", *overrides, f"model={cell}", "model.num_hiddens=8", "data.split=[0.6,0.2,0.2]",
                         f"ckpt_path={FIXTURES / name}")  # fmt: skip
    assert train(cfg)["train/ppl"] < 24  # a second epoch, from the first one's weights
    assert read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == 1


def test_a_killed_writers_partial_file_is_removed_by_the_next_writer(tmp_path):
    target = tmp_path / "ids.npy"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".ids.npy.{dead.pid}-0a1b2c3d.partial"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".ids.npy.{os.getpid()}-0a1b2c3d.partial"  # a writer still at work
    live.write_bytes(b"y")
    write_atomically(target, lambda file: file.write(b"ids"))
    assert not stale.exists() and live.exists() and target.read_bytes() == b"ids"

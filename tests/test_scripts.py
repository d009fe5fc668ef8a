"""scripts/generate.py and scripts/evaluate.py as a user runs them: from a checkpoint, without the corpus."""

import json

import pytest
from helpers import LYRICS, compose_config, run_script, tiny_overrides
from hydra.utils import instantiate

from lyrics_rnn.checkpoint import load_model
from lyrics_rnn.generate import generate
from lyrics_rnn.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny LSTM's last.ckpt, its validation tail as a text file and the val/ppl training logged.

    The corpus is deleted afterwards: the scripts must work from the checkpoint alone.
    """
    tmp = tmp_path_factory.mktemp("trained")
    corpus = tmp / "tiny.txt"
    corpus.write_text(LYRICS, encoding="utf-8")
    cfg = compose_config("train", *tiny_overrides(corpus, tmp / "run"), "model=lstm", "trainer.max_epochs=3")
    val_ppl = train(cfg)["val/ppl"]
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    tail = tmp / "tail.txt"
    tail.write_text(datamodule.vocab.decode(datamodule.ids["val"].tolist()), encoding="utf-8")
    corpus.unlink()
    return tmp / "run" / "checkpoints" / "last.ckpt", tail, val_ppl


def test_greedy_lyrics_from_the_checkpoint_alone(trained, tmp_path):
    ckpt, _, _ = trained
    result = run_script(
        "generate.py", f"ckpt_path={ckpt}", 'prefixes=["分开","不分开"]', "num_chars=12", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    model = load_model(ckpt)
    assert result.stdout.splitlines() == [generate(model.net, model.vocab, p, 12) for p in ("分开", "不分开")]
    assert list(tmp_path.iterdir()) == []  # nothing written but stdout


def test_sampling_is_repeatable_by_seed_and_writes_jsonl(trained, tmp_path):
    ckpt, _, _ = trained
    args = [
        f"ckpt_path={ckpt}",
        'prefixes=["分开"]',
        "temperature=1.5",
        "top_k=5",
        "num_samples=3",
        "format=jsonl",
    ]
    first, again, other = (run_script("generate.py", *args, f"seed={s}", cwd=tmp_path) for s in (1, 1, 2))
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(records) == 3 and all(r["prefix"] == "分开" and r["text"].startswith("分开") for r in records)
    assert all(len(r["text"]) == 2 + 50 for r in records)
    assert first.stdout == again.stdout != other.stdout


def test_prefix_with_unknown_characters_is_named(trained, tmp_path):
    ckpt, _, _ = trained
    result = run_script("generate.py", f"ckpt_path={ckpt}", 'prefixes=["周杰伦"]', cwd=tmp_path)
    assert result.returncode != 0 and "not in the vocabulary" in result.stderr and "周" in result.stderr


def test_evaluate_reproduces_the_validation_perplexity(trained, tmp_path):
    ckpt, tail, val_ppl = trained
    result = run_script(
        "evaluate.py", f"ckpt_path={ckpt}", f"data.path={tail}", "num_steps=5", cwd=tmp_path
    )  # as trained
    assert result.returncode == 0, result.stderr
    reported = float(result.stdout.split("perplexity ")[-1].split()[0])
    assert reported == pytest.approx(val_ppl, rel=1e-3)


def test_evaluate_names_unknown_characters(trained, tmp_path):
    ckpt, _, _ = trained
    text = tmp_path / "other.txt"
    text.write_text("完全陌生的文字" * 20, encoding="utf-8")
    result = run_script("evaluate.py", f"ckpt_path={ckpt}", f"data.path={text}", cwd=tmp_path)
    assert result.returncode != 0 and "not in the vocabulary" in result.stderr

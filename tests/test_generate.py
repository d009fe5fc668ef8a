"""scripts/generate.py's run, in-process: lyrics from a checkpoint alone, the corpus gone."""

import json

import pytest
from helpers import LYRICS, compose_config, tiny_overrides

from lyrics_rnn.checkpoint import load_model
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.generate import run
from lyrics_rnn.sampling import generate
from lyrics_rnn.train import train


def write(*overrides: str) -> list[str]:
    return run(compose_config("generate", *overrides))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny LSTM's last.ckpt; the corpus is deleted afterwards: generation needs the file alone."""
    tmp = tmp_path_factory.mktemp("trained")
    corpus = tmp / "tiny.txt"
    corpus.write_text(LYRICS, encoding="utf-8")
    train(compose_config("train", *tiny_overrides(corpus, tmp / "run"), "model=lstm", "trainer.max_epochs=3"))
    corpus.unlink()
    return tmp / "run" / "checkpoints" / "last.ckpt"


def test_greedy_lyrics_from_the_checkpoint_alone(ckpt, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(f"ckpt_path={ckpt}", 'prefixes=["分开","不分开"]', "num_chars=12")
    model = load_model(ckpt)
    expected = [generate(model.net, model.vocab, p, 12) for p in ("分开", "不分开")]
    assert capsys.readouterr().out.splitlines() == expected
    assert list(tmp_path.iterdir()) == []  # nothing written but stdout


def test_sampling_is_repeatable_by_seed_and_writes_jsonl(ckpt, capsys):
    args = [
        f"ckpt_path={ckpt}",
        'prefixes=["分开"]',
        "temperature=1.5",
        "top_k=5",
        "num_samples=3",
        "format=jsonl",
    ]
    outputs = []
    for seed in (1, 1, 2):
        write(*args, f"seed={seed}")
        outputs.append(capsys.readouterr().out)
    records = [json.loads(line) for line in outputs[0].splitlines()]
    assert len(records) == 3 and all(r["prefix"] == "分开" and r["text"].startswith("分开") for r in records)
    assert all(len(r["text"]) == 2 + 50 for r in records)
    assert outputs[0] == outputs[1] != outputs[2]


def test_prefix_with_unknown_characters_is_named(ckpt):
    with pytest.raises(LyricsError, match="not in the vocabulary: '伦周杰'"):
        write(f"ckpt_path={ckpt}", 'prefixes=["周杰伦"]')


def test_a_prefix_with_unseen_characters_generates_with_a_note(compose_train, tmp_path, capsys):
    train(compose_train("model=gru", "data.split=[0.6,0.2,0.2]", "data.min_freq=7"))  # rare ones -> <unk>
    (text,) = write(
        f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}",
        'prefixes=["周杰伦分开"]',
        "num_chars=5",
    )
    printed = capsys.readouterr()
    assert printed.out.endswith(f"周杰伦分开{text}\n") and len(text) == 5 and "<unk>" not in text
    assert "read as <unk>" in printed.err and "周" in printed.err


def test_the_copy_rate_is_the_share_of_windows_found_in_the_training_text(compose_train, tmp_path, capsys):
    train(compose_train("model=lstm", "trainer.max_epochs=3"))
    (sample,) = write(
        f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", 'prefixes=["分开"]', "copy_rate=true"
    )
    rate = float(capsys.readouterr().err.split("copy rate ")[1].split(":")[0])
    training = LYRICS.replace("\n", " ")[: int(len(LYRICS) * 0.8)]
    windows = [sample[i : i + 10] for i in range(len(sample) - 9)]
    assert rate == pytest.approx(sum(w in training for w in windows) / len(windows), abs=1e-3)

"""The vocabulary: sorted (the same in every process), `<unk>`, one encoder."""

import subprocess
import sys

import pytest

from lyrics_rnn.vocab import Vocab


def test_vocab_round_trip_and_unknown_characters():
    vocab = Vocab.from_text("不分开 分开")
    assert vocab.decode(vocab.encode("分开 不")) == "分开 不"
    with pytest.raises(ValueError, match="not in the vocabulary.*我"):
        vocab.encode("分我")


def test_vocab_is_the_same_in_every_process(real_corpus):
    """The notebook's set() order changes with PYTHONHASHSEED; ours must not."""
    code = (
        "from lyrics_rnn.prepare import Corpus;"
        f"print(''.join(Corpus({str(real_corpus)!r}, num_sample=10000, split=(1, 0, 0)).prepare()[0].idx_to_char))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1 and len(outputs.pop().strip("\n")) == 1027

"""The settings that depend on the machine: glibc's allocator and trainer.precision=auto."""

import platform

import pytest
from helpers import LYRICS

from lyrics_rnn import hardware
from lyrics_rnn.allocator import use_allocator
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.train import train


def test_the_tuned_allocator_applies_on_glibc_and_system_leaves_it():
    assert use_allocator("system") is False
    assert use_allocator("tuned") is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    with pytest.raises(LyricsError, match="allocator=tuned or allocator=system"):
        use_allocator("jemalloc")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx512f", "avx512_bf16"}, "bf16-mixed"),
        ({"amx_bf16", "amx_tile"}, "bf16-mixed"),
        ({"avx512f"}, "32-true"),
    ],
)
def test_auto_precision_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    assert hardware.auto_precision("cpu") == expected


def test_auto_precision_trains(compose_train):
    """Where it picks bf16, the default scratch RNN still learns: below three quarters of the uniform
    guess over the 24 characters of the tiny corpus after 3 epochs (an untrained model scores about 24)."""
    metrics = train(compose_train("trainer.precision=auto", "trainer.max_epochs=3"))
    assert metrics["val/ppl"] < 0.75 * len(set(LYRICS.replace("\n", " ")))

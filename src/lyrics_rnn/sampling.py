"""Writing lyrics: warm up on the whole prefix, then greedy (the book's way) or sampled decoding."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.vocab import Vocab


def pick_next(
    logits: Tensor,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The next character from [V] logits: argmax at temperature 0, else a draw from softmax(logits / T)."""
    if temperature == 0:
        return logits.argmax()
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        logits = logits.masked_fill(logits < logits.topk(top_k).values[-1], float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)[0]


def check_sampling(temperature: float, top_k: int | None) -> None:
    if not 0 <= temperature < math.inf or (top_k is not None and top_k < 1):  # NaN fails the first too
        raise LyricsError(
            f"temperature={temperature} must be finite and >= 0, and top_k={top_k} >= 1 (or null)."
        )


def stream(
    net: nn.Module,
    vocab: Vocab,
    prefix: str,
    num_chars: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Iterator[str]:
    """The `num_chars` characters that follow `prefix`, each yielded as soon as it is drawn (never
    `<unk>`: it is no character), so that a reader sees the lyrics appear. Bad settings fail here, at
    the call, before anything is drawn."""
    if not prefix:
        raise LyricsError("the prefix must hold at least one character.")
    check_sampling(temperature, top_k)
    return _drawn(net, vocab, vocab.encode(prefix).tolist(), num_chars, temperature, top_k, generator)


def _drawn(
    net: nn.Module,
    vocab: Vocab,
    ids: list[int],
    num_chars: int,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
) -> Iterator[str]:
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            device = next(net.parameters()).device
            # Warm-up: every prefix character goes through the network, the state carried along.
            logits, state = net(torch.tensor([ids], device=device), None)
            unk = None if vocab.unk is None else torch.tensor([vocab.unk], device=device)
        for _ in range(num_chars):
            with torch.no_grad():
                scores = logits[0, -1]
                if unk is not None:
                    scores = scores.index_fill(0, unk, float("-inf"))
                next_id = pick_next(scores, temperature, top_k, generator).view(1, 1)
                logits, state = net(next_id, state)
            yield vocab.idx_to_char[int(next_id)]
    finally:
        net.train(was_training)


def generate(net: nn.Module, vocab: Vocab, prefix: str, num_chars: int, **sampling: Any) -> str:
    """Return `prefix` (as given, even where it maps to `<unk>`) followed by `num_chars` characters;
    `sampling`: temperature, top_k and generator, as `stream` takes them."""
    return prefix + "".join(stream(net, vocab, prefix, num_chars, **sampling))


def copy_rate(samples: list[str], training_text: str, n: int = 10) -> float:
    """Share of the samples' n-character windows that occur verbatim in the training text: how much of
    what a model writes it memorised rather than made."""
    seen = {training_text[i : i + n] for i in range(len(training_text) - n + 1)}
    windows = [sample[i : i + n] for sample in samples for i in range(len(sample) - n + 1)]
    if not windows:
        raise LyricsError(f"the samples hold no {n}-character window; generate longer ones (num_chars).")
    return sum(window in seen for window in windows) / len(windows)

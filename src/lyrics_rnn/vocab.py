"""The character vocabulary and the one encoder of text into ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from lyrics_rnn.errors import LyricsError

UNK = "<unk>"
NUM_CODES = 0x110000  # every Unicode code point
MISSING = np.iinfo(np.uint32).max  # the id of a character outside a vocabulary without <unk>


def code_points(text: str) -> np.ndarray:
    """The text as an array of Unicode code points: vectorised work on characters, no Python loop."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class Vocab:
    """Characters <-> indices, in sorted order so every process builds the same mapping.

    An `<unk>` entry (index 0), when present, stands for every character outside the vocabulary: rare
    training characters (below `min_freq`) and characters the training text never shows.
    """

    def __init__(self, idx_to_char: Sequence[str]) -> None:
        self.idx_to_char = list(idx_to_char)
        self.char_to_idx = {char: idx for idx, char in enumerate(self.idx_to_char)}
        if len(self.char_to_idx) != len(self.idx_to_char):
            raise LyricsError("a vocabulary must not list a character twice")
        self.unk = self.char_to_idx.get(UNK)
        self._table: np.ndarray | None = None

    @classmethod
    def from_text(cls, text: str, min_freq: int = 1, heldout: str = "") -> Vocab:
        """The characters of `text` seen at least `min_freq` times; `<unk>` too if any character of
        `text` or `heldout` is left out."""
        counts = np.bincount(code_points(text), minlength=NUM_CODES)
        return cls.from_counts(counts, np.bincount(code_points(heldout), minlength=NUM_CODES) > 0, min_freq)

    @classmethod
    def from_counts(cls, train_counts: np.ndarray, heldout_seen: np.ndarray, min_freq: int = 1) -> Vocab:
        """As `from_text`, from each code point's count in the training text and whether the held-out
        text has it (arrays over all code points, so a corpus can be counted a chunk at a time)."""
        if min_freq < 1:
            raise LyricsError(f"data.min_freq={min_freq} must be at least 1 (1 keeps every character).")
        kept = train_counts >= min_freq
        if train_counts.any() and not kept.any():  # every character would be <unk>: nothing to learn
            raise LyricsError(
                f"data.min_freq={min_freq} keeps no character: the most frequent one occurs "
                f"{int(train_counts.max())} times in the training text; lower data.min_freq."
            )
        left_out = ((train_counts > 0) & ~kept).any() or (heldout_seen & ~kept).any()
        return cls(([UNK] if left_out else []) + [chr(code) for code in np.flatnonzero(kept).tolist()])

    def __len__(self) -> int:
        return len(self.idx_to_char)

    def encode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Ids (uint32) of code points, through a lookup table over all code points, built once;
        unknown ones become `<unk>`, or an error without it."""
        if self._table is None:
            self._table = np.full(NUM_CODES, MISSING if self.unk is None else self.unk, np.uint32)
            known = [(ord(c), i) for i, c in enumerate(self.idx_to_char) if c != UNK]
            self._table[[c for c, _ in known]] = [i for _, i in known]
        ids = self._table[codes]
        if self.unk is None and (missing := ids == MISSING).any():
            unknown = "".join(sorted({chr(c) for c in codes[missing].tolist()}))
            raise LyricsError(
                f"characters not in the vocabulary: {unknown[:20]!r}; use only known characters."
            )
        return ids

    def encode(self, text: str) -> np.ndarray:
        """Indices (int64) of the characters of a text."""
        return self.encode_codes(code_points(text)).astype(np.int64)

    def unknown(self, text: str) -> str:
        """The distinct characters of `text` outside the vocabulary, in sorted order."""
        return "".join(sorted(set(text) - self.char_to_idx.keys()))

    def decode(self, indices: Iterable[int], unk: str = UNK) -> str:
        """The characters of these ids; `<unk>` written as `unk` (one character keeps the text's length)."""
        return "".join(unk if i == self.unk else self.idx_to_char[i] for i in indices)

"""A corpus and the settings that cut it into parts (`Corpus`), prepared once: read in chunks,
preprocessed, its training vocabulary built and its characters encoded without a Python loop over
characters, into a cached id file that later runs (and every job of a sweep) memory-map.

Training, evaluation, checkpoints and the n-gram baseline all take their data from here."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lyrics_rnn.corpus import MAX_BYTES, CorpusError, open_corpus, preprocessed_chunks, raw_chars
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.files import write_atomically
from lyrics_rnn.vocab import NUM_CODES, Vocab

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the preprocessing or the file layout changes: old entries are then not used
Parts = dict[str, np.ndarray]  # "train", "val", "test" -> ids
T = TypeVar("T", str, np.ndarray)


@dataclass(frozen=True)
class Corpus:
    """What the data is: a file (or a zip member), how much of it, its split and its vocabulary's
    `min_freq`. How it is read (`max_bytes`) and where it is cached (`cache_dir`) do not change it."""

    path: str
    member: str | None = None
    num_sample: int | None = None
    split: tuple[float, ...] = (0.9, 0.1, 0.0)
    min_freq: int = 1
    max_bytes: int = field(default=MAX_BYTES, compare=False)
    cache_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(self.path))
        object.__setattr__(self, "split", tuple(float(share) for share in self.split))
        if self.num_sample is not None and self.num_sample < 1:
            raise LyricsError(
                f"data.num_sample={self.num_sample} must be positive, or null for the whole corpus."
            )
        split_lengths(0, self.split)  # checked now, before any reading

    def record(self) -> dict[str, Any]:
        """The settings that define the data, as plain values (what a checkpoint keeps)."""
        return {"path": self.path, "member": self.member, "num_sample": self.num_sample,
                "split": list(self.split), "min_freq": self.min_freq}  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Corpus:
        return cls(**{name: record[name] for name in ("path", "member", "num_sample", "split", "min_freq")})

    def prepare(self) -> tuple[Vocab, Parts]:
        """The training vocabulary and each part's ids (uint16, or uint32 for a vocabulary above
        65,536), from the cache entry for this file's content and these settings when there is a
        sound one, else prepared now and cached (`cache_dir` None: not cached)."""
        path = Path(self.path)
        with open_corpus(path, self.member, raw_chars(self.num_sample), self.max_bytes):
            pass  # the file, its member and its size are checked before any cache entry is used
        entry = None
        if self.cache_dir is not None:
            settings = {"format": FORMAT, **self.record()}
            del settings["path"]  # the content identifies the file, wherever it lies
            key = hashlib.sha256(json.dumps([file_digest(path), settings]).encode()).hexdigest()[:16]
            entry = Path(self.cache_dir) / f"{path.name}-{key}"
            cached = read_entry(entry)
            if cached is not None:
                return cached
        log.info("preparing %s (read, vocabulary, ids: three passes)", path)
        total = sum(len(codes) for codes in self.chunks())
        if total == 0:
            raise CorpusError(
                f"{path} holds no text after preprocessing; give a corpus with some text in it."
            )
        lengths = split_lengths(total, self.split)
        vocab = self.training_vocab(lengths["train"])
        if len(vocab) < 2:  # a model of one character has nothing to learn
            raise CorpusError(
                f"{path}'s training text holds a single distinct character ({vocab.idx_to_char[-1]!r}) "
                "after preprocessing (line breaks become spaces); give a corpus with some text in it."
            )
        ids = self.encode(vocab)
        if entry is not None:
            write_entry(entry, vocab, ids, lengths)
        return vocab, cut(ids, lengths)

    def chunks(self) -> Iterator[np.ndarray]:
        """The preprocessed text, a chunk of code points at a time."""
        return preprocessed_chunks(self.path, self.member, self.num_sample, self.max_bytes)

    def training_vocab(self, num_train: int) -> Vocab:
        """`Vocab.from_text` of the first `num_train` characters, counted a chunk at a time."""
        train_counts, heldout_seen, seen = np.zeros(NUM_CODES, np.int64), np.zeros(NUM_CODES, bool), 0
        for codes in self.chunks():
            end = max(0, min(len(codes), num_train - seen))
            train_counts += np.bincount(codes[:end], minlength=NUM_CODES)
            heldout_seen[codes[end:]] = True
            seen += len(codes)
        return Vocab.from_counts(train_counts, heldout_seen, self.min_freq)

    def characters(self) -> set[str]:
        """The distinct characters of the text."""
        seen = np.zeros(NUM_CODES, bool)
        for codes in self.chunks():
            seen[codes] = True
        return {chr(code) for code in np.flatnonzero(seen).tolist()}

    def encode(self, vocab: Vocab) -> np.ndarray:
        """Every character's id in `vocab` (uint16 where it fits), a chunk at a time."""
        dtype = np.uint16 if len(vocab) <= 1 << 16 else np.uint32
        chunks = [vocab.encode_codes(codes).astype(dtype) for codes in self.chunks()]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype)


def file_digest(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def split_lengths(total: int, split: Sequence[float]) -> dict[str, int]:
    """The lengths of the contiguous train / val / test parts: the first share trains, the next
    validates, the last tests."""
    if len(split) != 3 or min(split) < 0 or not math.isclose(sum(split), 1) or split[0] <= 0:
        raise LyricsError(
            f"data.split={list(split)} must be three shares [train, val, test] >= 0 that sum to 1, "
            "with a training share, e.g. data.split=[0.8,0.1,0.1]."
        )
    num_val, num_test = int(total * split[1]), int(total * split[2])
    return {"train": total - num_val - num_test, "val": num_val, "test": num_test}


def cut(sequence: T, lengths: dict[str, int]) -> dict[str, T]:
    """An id array (or a text) cut into its consecutive parts of these lengths."""
    ends = np.cumsum(list(lengths.values())).tolist()
    return {
        name: sequence[end - length : end] for (name, length), end in zip(lengths.items(), ends, strict=True)
    }


def entry_files(entry: Path) -> tuple[Path, Path]:
    """The ids file and the description file of a cache entry."""
    return entry.with_name(entry.name + ".npy"), entry.with_name(entry.name + ".json")


def write_entry(entry: Path, vocab: Vocab, ids: np.ndarray, lengths: dict[str, int]) -> None:
    """The ids file, then its description (vocabulary, part lengths, the ids' hash): an entry counts
    only once both are in place, each written atomically."""
    ids_file, meta_file = entry_files(entry)
    write_atomically(ids_file, lambda file: np.save(file, ids))
    meta = {"vocab": vocab.idx_to_char, "lengths": lengths}
    meta["sha256"] = entry_digest(ids, meta)
    write_atomically(meta_file, lambda file: file.write(json.dumps(meta).encode()))
    log.info("prepared %d characters into %s", len(ids), ids_file)


def entry_digest(ids: np.ndarray, meta: dict[str, Any]) -> str:
    """The hash of an entry's ids, vocabulary and part lengths: a change to any of them shows."""
    digest = hashlib.sha256(ids.data)
    digest.update(json.dumps({"vocab": meta.get("vocab"), "lengths": meta.get("lengths")}).encode())
    return digest.hexdigest()


def read_entry(entry: Path) -> tuple[Vocab, Parts] | None:
    """A cached entry, memory-mapped, if it is whole and its ids, vocabulary and part lengths hash as
    recorded; None otherwise (then it is prepared again and rewritten, never trusted)."""
    try:
        ids_file, meta_file = entry_files(entry)
        meta = json.loads(meta_file.read_text())
        ids = np.load(ids_file, mmap_mode="c")
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or entry_digest(ids, meta) != meta.get("sha256"):
        log.warning("cache entry %s is damaged; preparing the corpus again", entry)
        return None
    return Vocab(meta["vocab"]), cut(ids, meta["lengths"])

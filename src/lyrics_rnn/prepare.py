"""A corpus of any size, prepared once: read in chunks, preprocessed, its training vocabulary built and
its characters encoded without a Python loop over characters, into a cached id file beside the data
that later runs (and every job of a sweep) memory-map."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from lyrics_rnn.corpus import (
    MAX_BYTES,
    NUM_CODES,
    UNK,
    CorpusError,
    Vocab,
    open_corpus,
    preprocessed_chunks,
    raw_chars,
)
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.files import write_atomically

log = logging.getLogger(__name__)

T = TypeVar("T", str, np.ndarray)
FORMAT = 1  # bump when the preprocessing or the file layout changes: old entries are then not used


def prepare(
    path: str | Path,
    member: str | None = None,
    num_sample: int | None = None,
    split: Sequence[float] = (0.9, 0.1, 0.0),
    min_freq: int = 1,
    max_bytes: int = MAX_BYTES,
    cache_dir: str | Path | None = None,
) -> tuple[Vocab, dict[str, np.ndarray]]:
    """The training vocabulary and each part's ids (uint16, or uint32 for a vocabulary above 65,536),
    from the cache entry for this file's content and these settings when there is a sound one, else
    prepared now and cached (`cache_dir` None: not cached)."""
    path = Path(path)
    with open_corpus(path, member, raw_chars(num_sample), max_bytes):
        pass  # the file, its member and its size are checked before any cache entry is used
    settings = {
        "format": FORMAT,
        "member": member,
        "num_sample": num_sample,
        "split": list(split),
        "min_freq": min_freq,
    }
    entry = None
    if cache_dir is not None:
        key = hashlib.sha256(json.dumps([file_digest(path), settings]).encode()).hexdigest()[:16]
        entry = Path(cache_dir) / f"{path.name}-{key}"
        cached = read_entry(entry)
        if cached is not None:
            return cached
    log.info("preparing %s (read, vocabulary, ids: three passes)", path)
    total = sum(len(codes) for codes in preprocessed_chunks(path, member, num_sample, max_bytes))
    if total == 0:
        raise CorpusError(f"{path} holds no text after preprocessing; give a corpus with some text in it.")
    lengths = split_lengths(total, split)
    vocab = training_vocab(path, member, num_sample, max_bytes, lengths["train"], min_freq)
    ids = encode(path, member, num_sample, max_bytes, vocab)
    if entry is not None:
        write_entry(entry, vocab, ids, lengths)
    return vocab, cut(ids, lengths)


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
    """A text or an id array cut into its consecutive parts of these lengths."""
    ends = np.cumsum(list(lengths.values())).tolist()
    return {
        name: sequence[end - length : end] for (name, length), end in zip(lengths.items(), ends, strict=True)
    }


def training_vocab(
    path: Path, member: str | None, num_sample: int | None, max_bytes: int, num_train: int, min_freq: int
) -> Vocab:
    """`Vocab.from_text` of the first `num_train` characters, counted a chunk at a time."""
    train_counts, heldout_seen, seen = np.zeros(NUM_CODES, np.int64), np.zeros(NUM_CODES, bool), 0
    for codes in preprocessed_chunks(path, member, num_sample, max_bytes):
        cut = max(0, min(len(codes), num_train - seen))
        train_counts += np.bincount(codes[:cut], minlength=NUM_CODES)
        heldout_seen[codes[cut:]] = True
        seen += len(codes)
    return Vocab.from_counts(train_counts, heldout_seen, min_freq)


def encode(
    path: Path, member: str | None, num_sample: int | None, max_bytes: int, vocab: Vocab
) -> np.ndarray:
    """Every character's id, through a lookup table over all code points (unknown ones: `<unk>`)."""
    table = np.full(NUM_CODES, vocab.unk if vocab.unk is not None else 0, np.uint32)
    known = [(ord(c), i) for i, c in enumerate(vocab.idx_to_char) if c != UNK]
    table[[c for c, _ in known]] = [i for _, i in known]
    dtype = np.uint16 if len(vocab) <= 1 << 16 else np.uint32
    chunks = [
        table[codes].astype(dtype) for codes in preprocessed_chunks(path, member, num_sample, max_bytes)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype)


def entry_files(entry: Path) -> tuple[Path, Path]:
    """The ids file and the description file of a cache entry."""
    return entry.with_name(entry.name + ".npy"), entry.with_name(entry.name + ".json")


def write_entry(entry: Path, vocab: Vocab, ids: np.ndarray, lengths: dict[str, int]) -> None:
    """The ids file, then its description (vocabulary, part lengths, the ids' hash): an entry counts
    only once both are in place, each written atomically."""
    ids_file, meta_file = entry_files(entry)
    write_atomically(ids_file, lambda file: np.save(file, ids))
    meta = {"vocab": vocab.idx_to_char, "lengths": lengths, "sha256": hashlib.sha256(ids.data).hexdigest()}
    write_atomically(meta_file, lambda file: file.write(json.dumps(meta).encode()))
    log.info("prepared %d characters into %s", len(ids), ids_file)


def read_entry(entry: Path) -> tuple[Vocab, dict[str, np.ndarray]] | None:
    """A cached entry, memory-mapped, if it is whole and its ids hash as recorded; None otherwise (then
    it is prepared again and rewritten, never trusted)."""
    try:
        ids_file, meta_file = entry_files(entry)
        meta = json.loads(meta_file.read_text())
        ids = np.load(ids_file, mmap_mode="c")
    except (OSError, ValueError):
        return None
    if hashlib.sha256(ids.data).hexdigest() != meta.get("sha256"):
        log.warning("cache entry %s is damaged; preparing the corpus again", entry)
        return None
    return Vocab(meta["vocab"]), cut(ids, meta["lengths"])

"""Start-up cost of a large corpus: the whole text read into memory (the project's path before corpora
were prepared once) against preparing it into the cache, and against reading that cache.

Each arm runs in a fresh process on a generated corpus (nothing downloaded), timed from before the
corpus is read to the first training batch, with the process's peak resident memory.
"""

from __future__ import annotations

import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from lyrics_rnn.corpus import preprocessed_chunks
from lyrics_rnn.prepare import Corpus, cut, split_lengths
from lyrics_rnn.samplers import RandomSampler, windows
from lyrics_rnn.vocab import Vocab

SPLIT = (0.9, 0.1, 0.0)


def generate_corpus(path: Path, megabytes: int, seed: int = 0) -> Path:
    """UTF-8 text of about `megabytes` MB: 3,000 CJK characters drawn with Zipf-like frequencies, in
    lines of 5 to 15 characters (as lyrics are), written a block at a time."""
    rng = np.random.default_rng(seed)
    alphabet = np.arange(0x4E00, 0x4E00 + 3000)
    weights = 1 / np.arange(1, len(alphabet) + 1)
    partial = path.with_name(
        path.name + ".partial"
    )  # renamed once whole: a killed run leaves no short corpus
    with open(partial, "w", encoding="utf-8") as file:
        while file.tell() < megabytes * 1_000_000:
            codes = rng.choice(alphabet, size=1_000_000, p=weights / weights.sum()).astype(np.uint32)
            codes[np.cumsum(rng.integers(5, 16, size=100_000))[:-1].clip(max=len(codes) - 1)] = ord("\n")
            file.write(codes.tobytes().decode("utf-32-le"))
    partial.replace(path)
    return path


def first_batch(arm: str, corpus: Path, cache: Path) -> tuple[float, float, int]:
    """Runs in a fresh process: seconds to the first training batch, peak resident MB, characters."""
    start = time.perf_counter()
    if arm == "whole":  # before: one str, one int64 array per part
        text = np.concatenate(list(preprocessed_chunks(corpus))).tobytes().decode("utf-32-le")
        parts = cut(text, split_lengths(len(text), SPLIT))
        vocab = Vocab.from_text(parts["train"], 1, heldout=parts["val"] + parts["test"])
        train = torch.from_numpy(vocab.encode(parts["train"]))
    else:  # "prepare" (first run, into the cache) or "cached" (a later run)
        _, ids = Corpus(str(corpus), split=SPLIT, cache_dir=str(cache)).prepare()
        train = torch.from_numpy(ids["train"])
    sampler = RandomSampler(len(train), batch_size=32, num_steps=35)
    windows(train, next(iter(sampler))[0], 35)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(train)


def run_data(megabytes: int, folder: Path) -> list[str]:
    """One line per arm (in this order: `cached` reads what `prepare` wrote) and the ratios. Above
    200 MB the whole-text arm is left out: it needs about 12 times the corpus's size in memory."""
    arms = ("whole", "prepare", "cached") if megabytes <= 200 else ("prepare", "cached")
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / f"generated-{megabytes}mb.txt"
    if not corpus.exists():
        generate_corpus(corpus, megabytes)
    cache = folder / "cache"
    for old in cache.glob("*"):
        old.unlink()
    results = {}
    for arm in arms:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results[arm] = pool.submit(first_batch, arm, corpus, cache).result()
    lines = [f"{corpus.stat().st_size / 1e6:.0f} MB corpus, {results[arms[0]][2]} training characters"]
    lines += [
        f"{arm:8s} {s:7.2f} s to the first batch, peak {mb:6.0f} MB" for arm, (s, mb, _) in results.items()
    ]
    if "whole" in results:
        lines += [
            f"{arm} / whole: {results[arm][0] / results['whole'][0]:.2f}x time, "
            f"{results[arm][1] / results['whole'][1]:.2f}x memory"
            for arm in results
            if arm != "whole"
        ]
    return lines

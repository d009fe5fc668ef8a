"""`run(cfg)` of scripts/ngram.py: the Kneser-Ney character n-gram baseline on the same parts and
vocabulary as training, static and with the cache of the text already scored."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from lyrics_rnn.adapt import baselines, fitted_perplexities
from lyrics_rnn.corpus import ensure_corpus
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.prepare import Corpus

RECIPES = {
    "ngram": "",
    "ngram+cache": " with cache",
    "ngram+caches": " with cache of every order and recency",
}


def run(cfg: DictConfig) -> dict[str, float]:
    data = cfg.data
    path = ensure_corpus(data.path, data.url, data.sha256)
    corpus = Corpus(str(path), data.member, data.num_sample, tuple(data.split), data.min_freq, data.max_bytes)
    if cfg.cache_order < 1:
        raise LyricsError(f"cache_order={cfg.cache_order} must be at least 1 (the longest context cached).")
    vocab, parts = corpus.prepare()
    if not len(parts["val"]) or not len(parts["test"]):
        raise LyricsError(
            f"data.split={list(data.split)} needs validation and test parts, e.g. data=jaychou_heldout."
        )
    ids = {name: torch.from_numpy(part.astype(np.int64)) for name, part in parts.items()}
    model = KneserNey(ids["train"].tolist(), len(vocab), cfg.order)
    val, test = (baselines(model, ids[name], cfg.cache_order) for name in ("val", "test"))
    results = {}
    for recipe, label in RECIPES.items():  # cache weights chosen on validation
        val_ppl, test_ppl = fitted_perplexities(recipe, val, test)
        results[f"val perplexity{label}"], results[f"test perplexity{label}"] = val_ppl, test_ppl
    print(f"Kneser-Ney {cfg.order}-gram, {len(ids['train'])} training characters, vocabulary of {len(vocab)}")
    for name, ppl in results.items():
        print(f"{name} {ppl:.4f}")
    return results

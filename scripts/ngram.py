"""The classical baseline: `python scripts/ngram.py data=jaychou_heldout [order=6]` prints the validation
and test perplexities of an interpolated Kneser-Ney character n-gram: static; with the cache of the text
already scored (its longest matching context predicts); with that cache at every context length, of
the whole text so far and of its recent past."""

import numpy as np
import torch
from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.corpus import ensure_corpus
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import baselines, fitted_perplexities
from lyrics_rnn.ngram import KneserNey
from lyrics_rnn.prepare import prepare


@hydra_entry("ngram")
def main(cfg: DictConfig) -> dict[str, float]:
    data = cfg.data
    path = ensure_corpus(data.path, data.url, data.sha256)
    vocab, parts = prepare(path, data.member, data.num_sample, data.split, data.min_freq, data.max_bytes)
    if not len(parts["val"]) or not len(parts["test"]):
        raise LyricsError(
            f"data.split={list(data.split)} needs validation and test parts, e.g. data=jaychou_heldout."
        )
    if cfg.cache_order < 1:
        raise LyricsError(f"cache_order={cfg.cache_order} must be at least 1 (the longest context cached).")
    ids = {name: torch.from_numpy(part.astype(np.int64)) for name, part in parts.items()}
    model = KneserNey(ids["train"].tolist(), len(vocab), cfg.order)
    val, test = (baselines(model, ids[name], cfg.cache_order) for name in ("val", "test"))
    results = {}
    recipes = {
        "ngram": "",
        "ngram+cache": " with cache",
        "ngram+caches": " with cache of every order and recency",
    }
    for recipe, label in recipes.items():  # cache weights chosen on validation
        val_ppl, test_ppl = fitted_perplexities(recipe, val, test)
        results[f"val perplexity{label}"], results[f"test perplexity{label}"] = val_ppl, test_ppl
    print(f"Kneser-Ney {cfg.order}-gram, {len(ids['train'])} training characters, vocabulary of {len(vocab)}")
    for name, ppl in results.items():
        print(f"{name} {ppl:.4f}")
    return results


if __name__ == "__main__":
    main()

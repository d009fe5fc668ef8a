"""The classical baseline: `python scripts/ngram.py data=jaychou_heldout [order=6]` prints the validation
and test perplexities of an interpolated Kneser-Ney character n-gram, static and with a cache."""

import os
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from lyrics_rnn.cache import context_cache, fit_bucketed, mix, perplexity
from lyrics_rnn.config import register_configs
from lyrics_rnn.corpus import ensure_corpus
from lyrics_rnn.datamodule import encode_parts, read_parts
from lyrics_rnn.ngram import KneserNey

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))
register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="ngram")
def main(cfg: DictConfig) -> dict[str, float]:
    data = cfg.data
    path = ensure_corpus(data.path, data.url, data.sha256)
    parts = read_parts(path, data.member, data.num_sample, data.split)
    if not parts["val"] or not parts["test"]:
        raise ValueError(
            f"data.split={list(data.split)} needs validation and test parts, e.g. data=jaychou_heldout."
        )
    vocab, ids = encode_parts(parts, data.min_freq)
    model = KneserNey(ids["train"].tolist(), len(vocab), cfg.order)
    scored = {}
    for name in ("val", "test"):
        cache, lengths = context_cache(ids[name].tolist(), cfg.cache_order)
        scored[name] = np.stack([model.target_probs(ids[name].tolist()), cache], 1), lengths
    weights = fit_bucketed(*scored["val"])  # the cache's weight per match length, chosen on validation
    results = {}
    for name in ("val", "test"):
        probs, lengths = scored[name]
        results[name] = perplexity(probs[:, 0])
        results[f"{name} with cache"] = perplexity(mix(probs, lengths, weights))
    print(f"Kneser-Ney {cfg.order}-gram, {len(ids['train'])} training characters, vocabulary of {len(vocab)}")
    for name, ppl in results.items():
        print(f"{name.split()[0]} perplexity{' with cache' if 'cache' in name else ''} {ppl:.4f}")
    return results


if __name__ == "__main__":
    main()

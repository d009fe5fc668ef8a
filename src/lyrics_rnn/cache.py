"""Adaptation to the held-out text itself: a cache of what was already scored, and mixture weights.

Lyrics repeat within a song (choruses), so the characters that followed the current context earlier
in the same text predict the next one well. Only text already scored enters the cache, which is what
makes it a legitimate evaluation (Kuhn & De Mori 1990; Grave et al. 2017 for the neural version).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


def context_cache(ids: Sequence[int], max_order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """For every i: P_cache(ids[i + 1]) from the longest context ids[i - k + 1 : i + 1] (k <= max_order)
    seen earlier in ids[: i + 1], and that k (0: no earlier match, probability 0)."""
    ids = [int(i) for i in ids]
    seen: dict[tuple[int, ...], Counter] = defaultdict(Counter)
    probs, lengths = np.zeros(len(ids) - 1), np.zeros(len(ids) - 1, dtype=np.int64)
    for i in range(len(ids) - 1):
        for k in range(min(max_order, i + 1), 0, -1):
            nexts = seen.get(tuple(ids[i - k + 1 : i + 1]))
            if nexts:
                probs[i], lengths[i] = nexts[ids[i + 1]] / nexts.total(), k
                break
        for k in range(1, min(max_order, i + 1) + 1):  # ids[i + 1] is scored: now it may be cached
            seen[tuple(ids[i - k + 1 : i + 1])][ids[i + 1]] += 1
    return probs, lengths


def fit_weights(probs: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Mixture weights over components (columns of [N, C] target probabilities) maximising the
    likelihood of the N targets: expectation-maximisation, which never lowers it."""
    weights = np.full(probs.shape[1], 1 / probs.shape[1])
    for _ in range(iterations):
        joint = probs * weights
        weights = (joint / np.maximum(joint.sum(1, keepdims=True), 1e-300)).mean(0)
    return weights


def fit_bucketed(probs: np.ndarray, buckets: np.ndarray) -> dict[int, np.ndarray]:
    """One set of weights per bucket (e.g. the cache's match length: longer matches earn more trust)."""
    return {int(b): fit_weights(probs[buckets == b]) for b in np.unique(buckets)}


def mix(probs: np.ndarray, buckets: np.ndarray, weights: dict[int, np.ndarray]) -> np.ndarray:
    """The mixed target probabilities; a bucket never seen when fitting takes the nearest shorter one's."""
    known = np.array(sorted(weights))
    table = np.stack([weights[k] for k in known.tolist()])
    rows = np.clip(np.searchsorted(known, buckets, side="right") - 1, 0, None)
    return (probs * table[rows]).sum(1)


def perplexity(target_probs: np.ndarray) -> float:
    return float(np.exp(-np.mean(np.log(target_probs))))

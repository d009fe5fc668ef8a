"""Adaptation to the held-out text itself: a cache of what was already scored, and mixture weights.

Lyrics repeat within a song (choruses), so the characters that followed the current context earlier
in the same text predict the next one well. Only text already scored enters the cache, which is what
makes it a legitimate evaluation (Kuhn & De Mori 1990; Grave et al. 2017 for the neural version).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def context_cache(
    ids: Sequence[int], max_order: int = 8, half_life: float = math.inf
) -> tuple[np.ndarray, np.ndarray]:
    """For every i and every k in 0..max_order: P_k(ids[i + 1]), from what followed the context
    ids[i - k + 1 : i + 1] earlier in ids[: i + 1] (k = 0: the characters scored so far; 0 where the
    context was never seen), as [N, max_order + 1]; and the longest k >= 1 seen (0: none).

    With a finite `half_life`, an occurrence's weight halves every `half_life` characters: the current
    song's lines count more than those of songs long past."""
    ids = [int(i) for i in ids]
    # An occurrence at i weighs 2 ** ((i - origin) / half_life): later ones more; only ratios count.
    seen: dict[tuple[int, ...], tuple[dict[int, float], list[float]]] = {}  # nexts, [total, origin]
    probs = np.zeros((len(ids) - 1, max_order + 1))
    lengths = np.zeros(len(ids) - 1, dtype=np.int64)
    for i in range(len(ids) - 1):
        contexts = [tuple(ids[i - k + 1 : i + 1]) for k in range(min(max_order, i + 1) + 1)]
        for k, context in enumerate(contexts):
            if context in seen:
                nexts, (total, _) = seen[context]
                probs[i, k], lengths[i] = nexts.get(ids[i + 1], 0.0) / total, k
        for context in contexts:  # ids[i + 1] is scored: now it may be cached
            nexts, sums = seen.setdefault(context, ({}, [0.0, i]))
            exponent = (i - sums[1]) / half_life
            if exponent > 300:  # rescale before the weights overflow (long-past ones may reach 0)
                scale = 2.0**-exponent
                for key in nexts:
                    nexts[key] *= scale
                sums[:] = [sums[0] * scale, i]
                exponent = 0.0
            weight = 2.0**exponent
            nexts[ids[i + 1]] = nexts.get(ids[i + 1], 0.0) + weight
            sums[0] += weight
    return probs, lengths


def longest_match(probs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The classic cache (Kuhn & De Mori): only the longest context seen earlier predicts (0: none)."""
    return np.where(lengths > 0, probs[np.arange(len(lengths)), lengths], 0.0)


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

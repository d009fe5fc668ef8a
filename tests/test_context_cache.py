"""The cache of already scored text and the mixture weights fitted on validation."""

import math

import numpy as np
import pytest

from lyrics_rnn.context_cache import context_cache, fit_weights, longest_match


def test_cache_never_sees_a_character_before_it_is_scored():
    ids = [1, 2, 3, 1, 2, 3, 1, 2, 4]
    probs, lengths = context_cache(ids)
    assert not probs[0].any() and lengths[0] == 0  # nothing seen yet
    assert lengths[4] == 2 and probs[4, 2] == 1.0  # "1 2" was followed by 3 once before
    assert probs[4, 0] == pytest.approx(1 / 4)  # order 0: 3 is one of the 4 characters scored so far
    assert longest_match(probs, lengths)[4] == 1.0 and longest_match(probs, lengths)[0] == 0
    assert lengths[7] == 5 and probs[7, 5] == 0  # "1 2 3 1 2" was followed by 3, not by the 4 scored
    changed, _ = context_cache([*ids[:7], 9, 9])  # the future differs: the past's scores do not
    assert np.array_equal(changed[:6], probs[:6])


@pytest.mark.parametrize("half_life", [math.inf, 10.0, 1.0])
def test_recent_cache_weighs_each_earlier_occurrence_by_its_age(half_life: float) -> None:
    """Against the definition, summed directly: an occurrence i - j characters ago weighs
    2 ** (-(i - j) / half_life). At a half-life of 1, 400 characters cross the rescaling, and a context
    seen again 1,500 characters later would overflow a weight computed without it."""
    ids = np.random.default_rng(0).integers(0, 3, size=400).tolist() + [4] * 1500 + [1, 2, 1, 2]
    probs, lengths = context_cache(ids, max_order=3, half_life=half_life)
    for i in [*range(0, 400, 7), *range(len(ids) - 5, len(ids) - 1)]:
        for k in range(4):
            context = ids[i - k + 1 : i + 1] if k else []
            earlier = [j for j in range(max(k - 1, 0), i) if ids[j - k + 1 : j + 1] == context]
            # Relative to the latest occurrence (the same ratios), so that they do not all underflow.
            weights = {j: 2 ** (-(max(earlier) - j) / half_life) for j in earlier}
            total = sum(weights.values())
            hit = sum(w for j, w in weights.items() if ids[j + 1] == ids[i + 1])
            assert probs[i, k] == pytest.approx(hit / total if total else 0.0, rel=1e-9)
    assert lengths[-1] == 3


def test_mixture_weights_favour_the_better_component():
    probs = np.array([[0.5, 0.1], [0.4, 0.2], [0.6, 0.05]])
    weights = fit_weights(probs)
    assert weights[0] > 0.9 and weights.sum() == pytest.approx(1)

"""The Kneser-Ney character n-gram: a distribution over the vocabulary for every context."""

import random

import pytest

from lyrics_rnn.kneser_ney import KneserNey, discounts


def test_kneser_ney_sums_to_one_for_random_contexts():
    ids = [random.Random(0).randrange(6) for _ in range(400)] + list(range(7))
    model = KneserNey(ids, vocab_size=8, order=4)  # id 7 never occurs in training
    rng = random.Random(1)
    for _ in range(20):
        context = [rng.randrange(8) for _ in range(rng.randrange(5))]
        assert sum(model.prob(w, context) for w in range(8)) == pytest.approx(1, abs=1e-9)
    assert model.prob(7, [1, 2, 3]) > 0


def test_order_one_is_the_discounted_unigram():
    ids = [0] * 5 + [1] * 3 + [2] * 2 + [3]
    model = KneserNey(ids, vocab_size=5, order=1)
    d = discounts([5, 3, 2, 1])
    freed = d[2] + d[2] + d[1] + d[0]  # counts 5, 3 (D3+), 2 (D2), 1 (D1)
    for w, count in enumerate([5, 3, 2, 1, 0]):
        discounted = max(count - d[min(count, 3) - 1], 0) if count else 0
        assert model.prob(w, [4, 4]) == pytest.approx(discounted / 11 + freed / 11 / 5)

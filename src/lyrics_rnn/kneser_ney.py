"""The classical baseline: an interpolated, modified Kneser-Ney character n-gram model (Chen & Goodman).

P_k(w | h) = max(c(hw) - D_k(c(hw)), 0) / c(h) + gamma(h) / c(h) * P_{k-1}(w | h minus its first char),
with raw counts at the highest order, continuation counts (how many distinct characters precede hw)
below it, three discounts per order from the counts of counts, and a uniform distribution at the bottom.
An unseen context hands all its mass to the next lower order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from lyrics_rnn.errors import LyricsError

Context = tuple[int, ...]


def discounts(counts: Sequence[int]) -> tuple[float, float, float]:
    """D1, D2, D3+ of modified Kneser-Ney from the counts of counts n1..n4 (0.5 each where too few)."""
    n = Counter(min(c, 4) for c in counts)
    if min(n[1], n[2], n[3], n[4]) == 0:
        return 0.5, 0.5, 0.5
    y = n[1] / (n[1] + 2 * n[2])
    found = (1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3])
    return tuple(min(max(d, 0.05), i + 0.95) for i, d in enumerate(found))  # 0 < D_c < c


class KneserNey:
    """A character n-gram model over ids 0..vocab_size-1, fitted on one sequence of training ids."""

    def __init__(self, ids: Sequence[int], vocab_size: int, order: int = 6) -> None:
        if order < 1:
            raise LyricsError(f"order={order} must be at least 1.")
        self.order, self.vocab_size = order, vocab_size
        ids = [int(i) for i in ids]
        grams = Counter(tuple(ids[i : i + order]) for i in range(len(ids) - order + 1))
        # levels[k]: context of k-1 characters -> {next id: count}, raw at the top, continuation below.
        self.levels: list[dict[Context, dict[int, int]]] = [{} for _ in range(order + 1)]
        self.discounts: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * (order + 1)
        for k in range(order, 0, -1):
            table: dict[Context, dict[int, int]] = defaultdict(dict)
            for gram, count in grams.items():
                table[gram[:-1]][gram[-1]] = count
            self.levels[k] = dict(table)
            self.discounts[k] = discounts([c for nexts in table.values() for c in nexts.values()])
            # Continuation counts for the order below: distinct characters seen before each (k-1)-gram.
            grams = Counter(gram[1:] for gram in grams)
        # Per context: total count and the mass set free by discounting, gamma(h).
        self.totals = [
            {h: (sum(nexts.values()), self._freed(k, nexts)) for h, nexts in level.items()}
            for k, level in enumerate(self.levels)
        ]

    def _freed(self, k: int, nexts: dict[int, int]) -> float:
        return sum(self.discounts[k][min(c, 3) - 1] for c in nexts.values())

    def prob(self, next_id: int, context: Sequence[int]) -> float:
        """P(next_id | the last order-1 ids of context)."""
        context = tuple(context[len(context) - self.order + 1 :]) if self.order > 1 else ()
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):
            if k - 1 > len(context):
                break
            h = context[len(context) - k + 1 :] if k > 1 else ()
            if h not in self.totals[k]:
                continue  # unseen context: all its mass goes to the lower order
            total, freed = self.totals[k][h]
            count = self.levels[k][h].get(next_id, 0)
            discounted = max(count - self.discounts[k][min(count, 3) - 1], 0.0) if count else 0.0
            p = discounted / total + freed / total * p
        return p

    def target_probs(self, ids: Sequence[int]) -> list[float]:
        """P(ids[i + 1] | ids[: i + 1]) for every i: the held-out text scored as one stream."""
        ids = [int(i) for i in ids]
        return [self.prob(ids[i + 1], ids[max(0, i + 2 - self.order) : i + 1]) for i in range(len(ids) - 1)]

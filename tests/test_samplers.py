import itertools

import numpy as np
import pytest
import torch

from lyrics_rnn.samplers import (
    ConsecutiveSampler,
    RandomSampler,
    consecutive_starts,
    random_starts,
    windows,
)

SEQ = torch.arange(30)


def batches(ids, starts, num_steps):
    return [windows(ids, row, num_steps) for row in starts]


def test_consecutive_matches_the_notebook_example():
    (x1, y1), (x2, y2) = batches(SEQ, consecutive_starts(30, batch_size=2, num_steps=6), 6)
    assert x1.tolist() == [list(range(0, 6)), list(range(15, 21))]
    assert y1.tolist() == [list(range(1, 7)), list(range(16, 22))]
    assert x2.tolist() == [list(range(6, 12)), list(range(21, 27))]
    assert y2.tolist() == [list(range(7, 13)), list(range(22, 28))]


def test_random_matches_the_notebook_example():
    """(30-1)//6 = 4 windows at 0, 6, 12, 18; 4//3 = 1 batch of 3 distinct ones; Y is X shifted by one."""
    for seed in range(20):
        ((x, y),) = batches(SEQ, random_starts(30, 3, 6, np.random.default_rng(seed)), 6)
        assert x.shape == (3, 6)
        assert {row[0] for row in x.tolist()} <= {0, 6, 12, 18} and len({row[0] for row in x.tolist()}) == 3
        assert torch.equal(x[:, 1:], x[:, :-1] + 1) and torch.equal(y, x + 1)


def test_random_uses_every_window_over_seeds():
    used = {
        int(s) for seed in range(50) for s in random_starts(30, 3, 6, np.random.default_rng(seed)).flatten()
    }
    assert used == {0, 6, 12, 18}


def test_random_order_is_a_pure_function_of_seed_and_epoch():
    def order(seed, epoch):
        sampler = RandomSampler(1000, batch_size=4, num_steps=5, seed=seed)
        sampler.set_epoch(epoch)
        return torch.stack([starts for starts, _ in sampler])

    assert torch.equal(order(0, 3), order(0, 3))
    assert not torch.equal(order(0, 3), order(0, 4))
    assert not torch.equal(order(0, 3), order(1, 3))
    # 199 windows, 49 batches of 4: distinct windows (a permutation, not a draw with replacement).
    starts = order(0, 0).flatten().tolist()
    assert len(starts) == len(set(starts)) == 196 and set(starts) <= set(range(0, 995, 5))


def test_reset_flags_follow_the_state_policy():
    assert [reset for _, reset in RandomSampler(200, 2, 5)] == [True] * 19
    assert [reset for _, reset in ConsecutiveSampler(200, 2, 5)] == [True] + [False] * 18


def test_consecutive_rows_continue_across_batches():
    ids = torch.arange(200)
    xs = [windows(ids, starts, 5)[0] for starts, _ in ConsecutiveSampler(200, 4, 5)]
    for before, after in itertools.pairwise(xs):
        assert torch.equal(after[:, 0], before[:, -1] + 1)


@pytest.mark.parametrize("sampler", [RandomSampler, ConsecutiveSampler])
def test_too_short_corpus_names_the_sizes(sampler):
    with pytest.raises(ValueError, match=r"corpus of 20 characters.*batch_size=4.*num_steps=6"):
        sampler(20, batch_size=4, num_steps=6)


@pytest.mark.parametrize("sizes", [(0, 5), (2, 0)])
def test_sizes_below_one_are_refused(sizes):
    with pytest.raises(ValueError, match="must both be at least 1"):
        ConsecutiveSampler(100, *sizes)


@pytest.mark.parametrize("sampler", [RandomSampler, ConsecutiveSampler])
def test_shards_split_every_batch_by_rows(sampler):
    whole = [starts for starts, _ in sampler(400, 4, 5)]
    shards = []
    for rank in (0, 1):
        sharded = sampler(400, 4, 5)
        sharded.shard(rank, 2)
        shards.append([starts for starts, _ in sharded])
    for full, even, odd in zip(whole, *shards, strict=True):
        assert torch.equal(full[0::2], even) and torch.equal(full[1::2], odd)


def test_uneven_shards_are_refused():
    with pytest.raises(ValueError, match="batch_size=3 cannot be split evenly over 2 devices"):
        RandomSampler(400, 3, 5).shard(0, 2)

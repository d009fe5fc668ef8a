"""The book's two ways of cutting a corpus into (X, Y) minibatches of shape [batch_size, num_steps].

Both are expressed as a matrix of window starts, one row per batch; `windows` turns a row into
X and Y (X shifted by one) with a single gather, so no Python loop touches characters.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from lyrics_rnn.errors import LyricsError


def _check_sizes(batch_size: int, num_steps: int) -> None:
    if batch_size < 1 or num_steps < 1:
        raise LyricsError(
            f"batch_size={batch_size} and num_steps={num_steps} must both be at least 1; "
            "set sampler.batch_size and sampler.num_steps to positive integers."
        )


def _too_short(num_tokens: int, batch_size: int, num_steps: int, needed: int) -> LyricsError:
    return LyricsError(
        f"a corpus of {num_tokens} characters is too short for one batch of batch_size={batch_size} "
        f"x num_steps={num_steps} (needs at least {needed}); use a longer text (data.num_sample) "
        "or smaller sampler.batch_size / sampler.num_steps."
    )


def random_starts(num_tokens: int, batch_size: int, num_steps: int, generator: np.random.Generator) -> Tensor:
    """Notebook `data_iter_random`: the non-overlapping windows at 0, T, 2T, ... shuffled, whole batches only."""
    _check_sizes(batch_size, num_steps)
    num_examples = (num_tokens - 1) // num_steps
    num_batches = num_examples // batch_size
    if num_batches == 0:
        raise _too_short(num_tokens, batch_size, num_steps, batch_size * num_steps + 1)
    order = torch.from_numpy(generator.permutation(num_examples)[: num_batches * batch_size])
    return order.view(num_batches, batch_size) * num_steps


def consecutive_starts(num_tokens: int, batch_size: int, num_steps: int) -> Tensor:
    """Notebook `data_iter_consecutive`: `batch_size` rows of the corpus read side by side, T at a time.

    Row i of batch k+1 continues row i of batch k, which is what lets the hidden state carry over.
    """
    _check_sizes(batch_size, num_steps)
    row_len = num_tokens // batch_size
    num_batches = (row_len - 1) // num_steps
    if num_batches == 0:
        raise _too_short(num_tokens, batch_size, num_steps, batch_size * (num_steps + 1))
    row_starts = torch.arange(batch_size) * row_len
    return torch.arange(num_batches)[:, None] * num_steps + row_starts[None, :]


def windows(ids: Tensor, starts: Tensor, num_steps: int) -> tuple[Tensor, Tensor]:
    """Gather X = ids[s : s+T] and Y = ids[s+1 : s+T+1] for every start s, in one indexing op."""
    positions = starts[..., None] + torch.arange(num_steps, device=starts.device)
    return ids[positions].long(), ids[positions + 1].long()  # ids may be stored narrow (uint16)


class WindowSampler(Sampler[tuple[Tensor, bool]]):
    """Yields, per batch, its window starts and whether the hidden state must restart before it.

    Lightning calls `set_epoch` before every epoch, so the order is a pure function of (seed, epoch).
    """

    carries_state: bool = False

    def __init__(self, num_tokens: int, batch_size: int, num_steps: int) -> None:
        self.num_tokens, self.batch_size, self.num_steps = num_tokens, batch_size, num_steps
        self.epoch, self.rank, self.world_size, self.skip = 0, 0, 1, 0
        self._num_batches = len(self.starts())  # validates the sizes up front, before any training

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard(self, rank: int, world_size: int) -> None:
        """Give this process rows rank, rank + world_size, ... of every batch (data-parallel training).

        Splitting rows rather than batches keeps each row's continuation on the same process, so the
        consecutive sampler still carries the state; the averaged gradients equal one device's.
        """
        self.check_shards(world_size)
        self.rank, self.world_size = rank, world_size

    def check_shards(self, world_size: int) -> None:
        """Every device takes the same number of rows (train.py asks before DDP starts its processes)."""
        if self.batch_size % world_size:
            raise LyricsError(
                f"sampler.batch_size={self.batch_size} cannot be split evenly over {world_size} devices; "
                "make it a multiple of trainer.devices."
            )

    def starts(self) -> Tensor:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._num_batches

    def resume_at(self, batch: int) -> None:
        """The next epoch's iteration starts at `batch` (a run resumed from a mid-epoch checkpoint);
        the ones after it start at 0 again."""
        self.skip = batch

    def __iter__(self) -> Iterator[tuple[Tensor, bool]]:
        skip, self.skip = self.skip, 0
        for index, row in enumerate(self.starts()[skip:], start=skip):
            yield row[self.rank :: self.world_size], index == 0 or not self.carries_state


class RandomSampler(WindowSampler):
    """Random sampling: batches are unrelated, so every batch starts from a zero state."""

    def __init__(self, num_tokens: int, batch_size: int, num_steps: int, seed: int = 0) -> None:
        self.seed = seed
        super().__init__(num_tokens, batch_size, num_steps)

    def starts(self) -> Tensor:
        generator = np.random.default_rng((self.seed, self.epoch))
        return random_starts(self.num_tokens, self.batch_size, self.num_steps, generator)


class ConsecutiveSampler(WindowSampler):
    """Consecutive sampling: the state is reset at the start of an epoch and carried across batches."""

    carries_state = True

    def starts(self) -> Tensor:
        return consecutive_starts(self.num_tokens, self.batch_size, self.num_steps)


IGNORE = -100  # target of a padding position: scored by nothing (cross_entropy's ignore_index)


def stream_batches(
    ids: Tensor, num_streams: int, num_steps: int, rank: int = 0, world_size: int = 1
) -> list[tuple[Tensor, Tensor, bool]]:
    """Held-out text as `num_streams` contiguous streams read side by side, `num_steps` at a time.

    Every character after the first is a target exactly once: the streams split the targets evenly
    (the last one padded with IGNORE), and each stream reads the character before its first target.
    With several processes, each takes a contiguous block of the streams, so all get the same number
    of batches and the token-weighted mean over all processes equals one process's.
    """
    _check_sizes(num_streams, num_steps)
    ids, num_targets = ids.long(), len(ids) - 1
    if num_targets < num_streams:
        raise LyricsError(
            f"a held-out text of {len(ids)} characters is too short for {num_streams} streams; "
            "lower data.val_batch_size (evaluate.py: batch_size) or give the held-out part more text."
        )
    if num_streams % world_size:
        raise LyricsError(f"{num_streams} held-out streams cannot be split evenly over {world_size} devices.")
    row_len = -(-num_targets // num_streams)
    pad = row_len * num_streams - num_targets
    inputs = torch.cat([ids[:-1], ids.new_zeros(pad)]).view(num_streams, row_len)
    targets = torch.cat([ids[1:], ids.new_full((pad,), IGNORE)]).view(num_streams, row_len)
    per_rank = num_streams // world_size
    rows = slice(rank * per_rank, (rank + 1) * per_rank)
    inputs, targets = inputs[rows], targets[rows]
    return [
        (inputs[:, t : t + num_steps], targets[:, t : t + num_steps], t == 0)
        for t in range(0, row_len, num_steps)
    ]

"""LightningDataModule: a corpus's train / validation / test parts as batches."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lyrics_rnn.corpus import MAX_BYTES, ensure_corpus
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.prepare import Corpus
from lyrics_rnn.samplers import WindowSampler, stream_batches, windows
from lyrics_rnn.vocab import Vocab

log = logging.getLogger(__name__)
# Logits in one held-out batch (16 MiB in fp32). The state is carried from batch to batch, so the batch
# length changes no score, only how many batches, each with Lightning's per-batch cost, a pass takes.
HELDOUT_LOGITS = 2**22


class WindowDataset(Dataset):
    """Turns one sampler item (window starts, reset flag) into a whole batch (X, Y, reset)."""

    def __init__(self, ids: Tensor, num_steps: int) -> None:
        self.ids, self.num_steps = ids, num_steps

    def __getitem__(self, item: tuple[Tensor, bool]) -> tuple[Tensor, Tensor, bool]:
        starts, reset = item
        inputs, targets = windows(self.ids, starts, self.num_steps)
        return inputs, targets, reset


class LyricsDataModule(L.LightningDataModule):
    """The lyrics as batches. Training uses the sampler; validation and test read their part as
    consecutive streams with the state carried, every character scored. The vocabulary comes from the
    training part only."""

    def __init__(
        self,
        path: str | Path,
        sampler: Callable[..., WindowSampler],
        url: str | None = None,
        sha256: str | None = None,
        member: str | None = None,
        num_sample: int | None = 10000,
        split: Sequence[float] = (0.9, 0.1, 0.0),
        min_freq: int = 1,
        val_batch_size: int | str = 1,
        max_bytes: int = MAX_BYTES,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        if val_batch_size != "auto" and not (isinstance(val_batch_size, int) and val_batch_size >= 1):
            raise LyricsError(f"data.val_batch_size={val_batch_size} must be at least 1, or auto.")
        cache = None if cache_dir is None else str(cache_dir)
        self.corpus = Corpus(str(path), member, num_sample, tuple(split), min_freq, max_bytes, cache)
        self.url, self.sha256, self.val_batch_size = url, sha256, val_batch_size
        self.make_sampler = sampler
        self.vocab: Vocab | None = None
        self.ids: dict[str, Tensor] = {}

    def prepare_data(self) -> None:
        ensure_corpus(self.corpus.path, self.url, self.sha256)

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        self.vocab, parts = self.corpus.prepare()
        self.ids = {name: torch.from_numpy(ids) for name, ids in parts.items()}
        self.train_sampler = self.make_sampler(num_tokens=len(self.ids["train"]))
        for name in ("val", "test"):
            if self.has(name):  # checked now, not after an epoch of training
                self._streams(name, 0, 1)

    def has(self, part: str) -> bool:
        return len(self.ids.get(part, ())) > 0

    def _streams(self, part: str, rank: int, world_size: int) -> list:
        num_streams = self.val_batch_size
        if num_streams == "auto":
            # Enough streams that a held-out pass takes at most a tenth of the training steps, each
            # character still scored once; the fewer the streams, the more context each one carries.
            train = self.train_sampler
            num_streams = math.ceil(
                10 * len(self.ids[part]) * train.batch_size / max(len(self.ids["train"]), 1)
            )
            num_streams = max(1, min(num_streams, len(self.ids[part]) - 1))
        if num_streams % world_size:  # each device takes whole streams
            num_streams += world_size - num_streams % world_size
            if rank == 0:
                log.warning(
                    "%s: %d streams (data.val_batch_size=%s rounded up to a multiple of %d devices)",
                    part, num_streams, self.val_batch_size, world_size,
                )  # fmt: skip
        rows = num_streams // world_size
        num_steps = max(self.train_sampler.num_steps, HELDOUT_LOGITS // (rows * len(self.vocab)))
        try:
            return stream_batches(self.ids[part], num_streams, num_steps, rank, world_size)
        except ValueError as error:
            raise LyricsError(f"{part} part (data.split={list(self.corpus.split)}): {error}") from error

    def _heldout_loader(self, part: str) -> DataLoader | list:
        if not self.has(part):
            return []
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return DataLoader(self._streams(part, rank, world_size), batch_size=None)

    def train_dataloader(self) -> DataLoader:
        if self.trainer is not None:
            self.train_sampler.shard(self.trainer.global_rank, self.trainer.world_size)
        sampler = self.train_sampler
        return DataLoader(
            WindowDataset(self.ids["train"], sampler.num_steps), sampler=sampler, batch_size=None
        )

    def val_dataloader(self) -> DataLoader | list:
        return self._heldout_loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._heldout_loader("test")

"""LightningDataModule: corpus file -> vocabulary -> train/validation ids -> per-epoch (X, Y, reset) batches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lyrics_rnn.corpus import Vocab, ensure_corpus, preprocess, read_text
from lyrics_rnn.samplers import ConsecutivePartition, Partition, windows


class WindowDataset(Dataset):
    """Turns one sampler item (window starts, reset flag) into a whole batch (X, Y, reset)."""

    def __init__(self, ids: Tensor, num_steps: int) -> None:
        self.ids, self.num_steps = ids, num_steps

    def __getitem__(self, item: tuple[Tensor, bool]) -> tuple[Tensor, Tensor, bool]:
        starts, reset = item
        inputs, targets = windows(self.ids, starts, self.num_steps)
        return inputs, targets, reset


class LyricsDataModule(L.LightningDataModule):
    """The lyrics as batches; validation reads the held-out tail consecutively with the state carried."""

    def __init__(
        self,
        path: str | Path,
        sampler: Callable[..., Partition],
        url: str | None = None,
        sha256: str | None = None,
        member: str | None = None,
        num_sample: int | None = 10000,
        val_fraction: float = 0.1,
        val_batch_size: int = 1,
    ) -> None:
        super().__init__()
        if not 0 <= val_fraction < 0.5:
            raise ValueError(
                f"data.val_fraction={val_fraction} must lie in [0, 0.5); 0 turns validation off."
            )
        if num_sample is not None and num_sample < 1:
            raise ValueError(f"data.num_sample={num_sample} must be positive, or null for the whole corpus.")
        self.path, self.url, self.sha256, self.member = Path(path), url, sha256, member
        self.num_sample, self.val_fraction, self.val_batch_size = num_sample, val_fraction, val_batch_size
        self.make_partition = sampler
        self.vocab: Vocab | None = None

    def prepare_data(self) -> None:
        ensure_corpus(self.path, self.url, self.sha256)

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        text = preprocess(read_text(self.path, self.member), self.num_sample)
        self.vocab = Vocab.from_text(text)
        ids = torch.tensor(self.vocab.encode(text), dtype=torch.long)
        num_val = int(len(ids) * self.val_fraction)
        self.train_ids, self.val_ids = ids[: len(ids) - num_val], ids[len(ids) - num_val :]
        self.train_partition = self.make_partition(num_tokens=len(self.train_ids))
        self.val_partition = None
        if num_val:
            try:
                self.val_partition = ConsecutivePartition(
                    len(self.val_ids), self.val_batch_size, self.train_partition.num_steps
                )
            except ValueError as error:
                raise ValueError(
                    f"validation tail (data.val_fraction={self.val_fraction}): {error} "
                    "Or lower data.val_batch_size, or set data.val_fraction=0."
                ) from error

    def train_dataloader(self) -> DataLoader:
        if self.trainer is not None:
            self.train_partition.shard(self.trainer.global_rank, self.trainer.world_size)
        return batch_loader(self.train_ids, self.train_partition)

    def val_dataloader(self) -> DataLoader | list:
        # Not sharded: every process scores the whole tail (one stream cannot be split), with equal results.
        return [] if self.val_partition is None else batch_loader(self.val_ids, self.val_partition)


def batch_loader(ids: Tensor, partition: Partition) -> DataLoader:
    """A DataLoader of (X, Y, reset) batches; batch_size=None because each sampler item is a whole batch."""
    return DataLoader(WindowDataset(ids, partition.num_steps), sampler=partition, batch_size=None)

"""LightningDataModule: corpus file -> train / validation / test parts -> vocabulary -> batches."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lyrics_rnn.corpus import MAX_BYTES, Vocab, ensure_corpus, read_corpus
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.prepare import cut, prepare, split_lengths
from lyrics_rnn.samplers import WindowSampler, stream_batches, windows

log = logging.getLogger(__name__)
PARTS = ("train", "val", "test")
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


def split_text(text: str, split: Sequence[float]) -> dict[str, str]:
    """Contiguous parts: the first share of the text trains, the next validates, the last tests."""
    return cut(text, split_lengths(len(text), split))


def read_parts(
    path: str | Path,
    member: str | None,
    num_sample: int | None,
    split: Sequence[float],
    max_bytes: int = MAX_BYTES,
) -> dict[str, str]:
    """The corpus file, preprocessed as the notebook does, cut into its train / val / test texts."""
    return split_text(read_corpus(path, member, num_sample, max_bytes), split)


def batches_done(trainer: L.Trainer | None) -> int:
    """The batches of the current training epoch trained so far: 0 at an epoch's end, or unattached."""
    if trainer is None:
        return 0
    done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    return done if done < trainer.num_training_batches else 0


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
        if num_sample is not None and num_sample < 1:
            raise LyricsError(f"data.num_sample={num_sample} must be positive, or null for the whole corpus.")
        if val_batch_size != "auto" and not (isinstance(val_batch_size, int) and val_batch_size >= 1):
            raise LyricsError(f"data.val_batch_size={val_batch_size} must be at least 1, or auto.")
        self.path, self.url, self.sha256, self.member = Path(path), url, sha256, member
        self.num_sample, self.split, self.min_freq = num_sample, [float(s) for s in split], min_freq
        self.val_batch_size, self.max_bytes = val_batch_size, max_bytes
        self.cache_dir = cache_dir
        self.make_sampler = sampler
        self.vocab: Vocab | None = None
        self.ids: dict[str, Tensor] = {}

    def prepare_data(self) -> None:
        ensure_corpus(self.path, self.url, self.sha256)

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        self.vocab, parts = prepare(
            self.path, self.member, self.num_sample, self.split, self.min_freq, self.max_bytes, self.cache_dir
        )
        self.ids = {name: torch.from_numpy(ids) for name, ids in parts.items()}
        self.train_sampler = self.make_sampler(num_tokens=len(self.ids["train"]))
        for name in ("val", "test"):
            if self.has(name):  # checked now, not after an epoch of training
                self._streams(name, 0, 1)

    def has(self, part: str) -> bool:
        return len(self.ids.get(part, ())) > 0

    def state_dict(self) -> dict[str, Any]:
        """What defines the parts (so evaluation rebuilds them) and how far into its epoch training is
        (so a mid-epoch checkpoint resumes at the next batch): Lightning saves it in every checkpoint."""
        return {
            "path": str(self.path),
            "member": self.member,
            "num_sample": self.num_sample,
            "split": self.split,
            "min_freq": self.min_freq,
            "batches_done": batches_done(self.trainer),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_sampler.resume_at(state_dict.get("batches_done", 0))

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
            raise LyricsError(f"{part} part (data.split={self.split}): {error}") from error

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

"""Checkpoint files: written atomically, read without ever executing code from them."""

from __future__ import annotations

import glob
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.files import write_atomically
from lyrics_rnn.hardware import resolve_device
from lyrics_rnn.module import CharLM
from lyrics_rnn.prepare import Corpus, Parts


class CheckpointError(LyricsError):
    """A file that is not a readable lyrics-rnn checkpoint, with what to do about it in the message."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves beside the target and renames over it: a kill mid-save never truncates a good checkpoint."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        write_atomically(path, lambda file: torch.save(checkpoint, file))

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict:
        return read_checkpoint(path, map_location)


def refuse_url(spec: object) -> None:
    """A URL is no file here (and Path() would fold its slashes into a path that is "not found")."""
    if "://" in str(spec):
        raise CheckpointError(f"ckpt_path={spec} is a URL; download the checkpoint and pass its file.")


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """`torch.load` with `weights_only=True`: tensors and plain containers only, never arbitrary pickles."""
    refuse_url(path)
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"ckpt_path={path} is a directory; pass a checkpoint file in it, e.g. {path}/checkpoints/last.ckpt."
        )
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path}. Pass ckpt_path=<run>/checkpoints/last.ckpt of an existing run."
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint; use another one.")
    try:
        with warnings.catch_warnings():  # torch's note on a foreign pickle's protocol: the error says more
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # Torch's own message advises weights_only=False, i.e. running the file's code: not quoted.
        raise CheckpointError(
            f"{path} was refused: it is not a torch checkpoint, or it holds objects that only an unsafe "
            "unpickler would load. Use a checkpoint written by lyrics-rnn."
        ) from error
    except (RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError) as error:
        # A text file renamed .ckpt reaches the unpickler as opcodes it has no entry for (KeyError, IndexError).
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint: truncated, corrupt or another kind of file ({reason}). "
            "Use a checkpoint written by lyrics-rnn."
        ) from error
    if not isinstance(checkpoint, dict) or "vocab" not in checkpoint.get("hyper_parameters", {}):
        raise CheckpointError(
            f"{path} is not a lyrics-rnn checkpoint (no vocabulary in it); use one from a run's checkpoints/."
        )
    return checkpoint


def checkpoint_paths(spec: str | Sequence[str]) -> list[Path]:
    """One checkpoint, a list of them, or glob patterns (e.g. the best checkpoint of every run of a
    sweep, for an ensemble), each pattern's matches in sorted order."""
    paths = []
    for item in list(spec) if isinstance(spec, Sequence) and not isinstance(spec, str) else [spec]:
        refuse_url(item)
        matches = sorted(glob.glob(str(item))) if glob.has_magic(str(item)) else [str(item)]
        if not matches:
            raise CheckpointError(f"no checkpoint matches ckpt_path={item}; check the pattern.")
        paths += [Path(match) for match in matches]
    if not paths:
        raise CheckpointError("ckpt_path=[] names no checkpoint; give a file, a list of files or a pattern.")
    return paths


def corpus_record(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """What defines the data a checkpoint was trained on (its hyperparameters' `corpus`; version 0.1 kept
    it, with its progress in the epoch, under the data module's class name); None: not recorded."""
    record = checkpoint["hyper_parameters"].get("corpus") or checkpoint.get("LyricsDataModule")
    return None if not record else Corpus.from_record(record).record()


def corpus_of(checkpoint: dict[str, Any], path: str | Path) -> Corpus:
    """The corpus and split a checkpoint was trained on, there to be read."""
    record = corpus_record(checkpoint)
    if not record:
        raise CheckpointError(
            f"{path} does not record its training data (written by an older lyrics-rnn); "
            "evaluate it on a text file instead: data.path=<file>."
        )
    corpus = Corpus.from_record(record)
    if not Path(corpus.path).is_file():  # moved or deleted since: data.path would be the wrong hint
        raise CheckpointError(
            f"{path} was trained on {corpus.path}, which is not there any more; put the corpus back "
            "there to use its parts (split=val|test, adapt=, copy_rate=true)."
        )
    return corpus


def training_parts(path: str | Path) -> Parts:
    """The train / val / test ids of the corpus and split a checkpoint was trained on."""
    checkpoint = read_checkpoint(path)
    vocab, parts = corpus_of(checkpoint, path).prepare()
    if vocab.idx_to_char != list(checkpoint["hyper_parameters"]["vocab"]):
        raise CheckpointError(
            f"the corpus {path} was trained on has changed since (its vocabulary differs); "
            "put the original back to use its parts."
        )
    return parts


def load_model(path: str | Path, device: str = "cpu") -> CharLM:
    """Rebuild a trained model from its checkpoint alone: hyperparameters and vocabulary travel inside."""
    checkpoint = read_checkpoint(path, map_location="cpu")
    broken = [name for name, value in checkpoint["state_dict"].items() if not torch.isfinite(value).all()]
    if broken:
        raise CheckpointError(
            f"{path} holds non-finite weights ({', '.join(broken[:3])}): its run diverged. "
            "Use a checkpoint of an earlier epoch, or train again with a lower learning rate."
        )
    model = CharLM(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(resolve_device(device)).eval()

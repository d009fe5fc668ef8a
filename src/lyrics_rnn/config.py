"""Typed schemas for the Hydra configs, so a wrong key or type fails at composition, before any training.

The schemas of instantiated objects (data, sampler, model, trainer, the default callbacks) are derived
from their constructors' signatures: a hyperparameter is written once in code (name, type, default) and
once in the YAML of conf/ (its value), whose defaults list names the schema first (e.g.
`- /schema/sampler/random@_here_`).
The entry configs (train, generate, evaluate, ngram) are typed at their root by the dataclasses below.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import os
import types
import typing
from dataclasses import dataclass
from typing import Any

import lightning as L
from hydra.core.config_store import ConfigStore
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from omegaconf import MISSING, OmegaConf

from lyrics_rnn.callbacks import EpochSpeed, LyricsSamples
from lyrics_rnn.datamodule import LyricsDataModule
from lyrics_rnn.module import CharLM
from lyrics_rnn.samplers import ConsecutiveSampler, RandomSampler


@dataclass
class EntrySchema:
    """What every entry point takes: the allocator (see allocator.py)."""

    allocator: str = "tuned"


@dataclass
class TrainSchema(EntrySchema):
    """The top-level keys of train.yaml; the groups below them have schemas of their own."""

    data: Any = MISSING
    sampler: Any = MISSING
    model: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None
    paths: Any = MISSING
    seed: int = MISSING
    optimized_metric: str = MISSING
    ckpt_path: str | None = None
    threads: int | None = None
    book_ppl: float | None = None


@dataclass
class GenerateSchema(EntrySchema):
    ckpt_path: str = MISSING
    prefixes: list[str] = MISSING
    num_chars: int = MISSING
    temperature: float = MISSING
    top_k: int | None = None
    num_samples: int = MISSING
    seed: int = MISSING
    device: str = MISSING
    format: str = MISSING
    copy_rate: bool = False


@dataclass
class EvaluateDataSchema:
    path: str | None = None
    member: str | None = None
    num_sample: int | None = None


@dataclass
class EvaluateSchema(EntrySchema):
    ckpt_path: Any = MISSING  # a path, a list of paths or glob patterns (an ensemble)
    split: str | None = MISSING
    adapt: str = MISSING
    data: EvaluateDataSchema = MISSING
    batch_size: int = MISSING
    num_steps: int = MISSING
    ngram_order: int = MISSING
    device: str = MISSING


@dataclass
class NgramSchema(EntrySchema):
    data: Any = MISSING
    paths: Any = MISSING
    order: int = MISSING
    cache_order: int = MISSING


CHECKABLE = (int, float, bool, str)  # the types OmegaConf checks; anything else is typed Any


def _checkable(hint: Any) -> Any:
    """`hint` if OmegaConf can check it (a scalar, an optional one, a list of them), else Any."""
    if hint in CHECKABLE:
        return hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        values = set(args) - {type(None)}
        if values == {int, float}:  # a number either way: a float to OmegaConf (an int given converts)
            inner = float
        elif len(values) == 1:
            inner = _checkable(values.pop())
        else:
            inner = Any
        return inner | None if inner is not Any and type(None) in args else inner
    if origin in (list, tuple, collections.abc.Sequence) and args and args[0] in CHECKABLE:
        return list[args[0]]
    return Any


def schema_of(target: type, skip: tuple[str, ...] = (), partial: bool = False) -> type:
    """A dataclass of `target`'s constructor parameters (less `skip`) with their types and defaults,
    plus `_target_` (and `_partial_`), so that the config of `target` accepts nothing else."""
    hints = typing.get_type_hints(target.__init__)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, MISSING)]
    if partial:
        fields.append(("_partial_", bool, True))
    for name, parameter in inspect.signature(target).parameters.items():
        if name in skip:
            continue
        default = MISSING if parameter.default is inspect.Parameter.empty else parameter.default
        if isinstance(default, tuple | list):  # a list default must be built afresh for each config
            default = dataclasses.field(default_factory=functools.partial(list, default))
        fields.append((name, _checkable(hints.get(name, Any)), default))
    return dataclasses.make_dataclass(f"{target.__name__}Schema", fields)


def cpu_share(n_jobs: int) -> int:
    """Torch threads for one of `n_jobs` jobs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, n_jobs))


def register_configs() -> None:
    """Make the schemas and the `cpu_share` resolver known; call before composing (scripts and tests do)."""
    OmegaConf.register_new_resolver("cpu_share", cpu_share, replace=True)
    store = ConfigStore.instance()
    for name in ("train", "generate", "evaluate", "ngram"):  # whole entry configs: typed at their root
        store.store(group="schema", name=name, node=globals()[f"{name.title()}Schema"], package="_global_")
    for name, node in {
        "data": schema_of(LyricsDataModule),
        "sampler/random": schema_of(RandomSampler, skip=("num_tokens",), partial=True),
        "sampler/consecutive": schema_of(ConsecutiveSampler, skip=("num_tokens",), partial=True),
        "model": schema_of(CharLM, skip=("vocab",)),
        # Lightning's own settings too: `trainer.max_epochs=abc` fails at composition, naming the key.
        "trainer": schema_of(L.Trainer, skip=("callbacks", "logger")),
        "callbacks/model_checkpoint": schema_of(ModelCheckpoint),
        "callbacks/lyrics_samples": schema_of(LyricsSamples),
        "callbacks/epoch_speed": schema_of(EpochSpeed),
        "callbacks/progress_bar": schema_of(TQDMProgressBar),
    }.items():
        group, _, leaf = f"schema/{name}".rpartition("/")
        store.store(group=group, name=leaf, node=node)

"""Typed schemas for the Hydra configs, so a wrong key or type fails at composition, before any training.

The schemas of instantiated objects (data, sampler, model, trainer, the default callbacks) are derived
from their constructors' signatures, and a model's from its network's Config dataclass too: a setting is
written once in code (name, type, default) and once in the YAML of conf/ (its value), whose defaults
list names the schema first (e.g. `- /schema/sampler/random@_here_`, `- /schema/model/lstm@_here_`).
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
from hydra.utils import get_object
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from omegaconf import MISSING, DictConfig, OmegaConf

from lyrics_rnn.callbacks import DivergenceGuard, EpochSpeed, ExactResume, LyricsSamples, SurprisalView
from lyrics_rnn.datamodule import LyricsDataModule
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models import NETWORKS, config_class
from lyrics_rnn.module import CharLM
from lyrics_rnn.samplers import ConsecutiveSampler, RandomSampler
from lyrics_rnn.studio import Limits


@dataclass
class EntrySchema:
    """What every entry point takes: the allocator (see allocator.py; `tuned`: glibc keeps freed memory
    for the next step, fewer page faults; `system`: glibc untouched)."""

    allocator: str = "tuned"


@dataclass
class CorpusEntrySchema(EntrySchema):
    """What the entry points that read a corpus take: its data config (conf/data/) and where data and
    outputs live (conf/paths/)."""

    data: Any = MISSING
    paths: Any = MISSING


@dataclass
class TrainSchema(CorpusEntrySchema):
    """The top-level keys of train.yaml; the groups below them have schemas of their own."""

    sampler: Any = MISSING
    model: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None
    seed: int = MISSING
    optimized_metric: str = MISSING
    ckpt_path: str | None = None
    threads: int | None = None
    book_ppl: float | None = None


@dataclass
class CheckpointToolSchema(EntrySchema):
    """What the tools that read a trained model take: its checkpoint (evaluate.py: also a list of them
    or glob patterns, an ensemble) and the device to run it on."""

    ckpt_path: Any = MISSING
    device: str = MISSING


@dataclass
class GenerateSchema(CheckpointToolSchema):
    """The top-level keys of generate.yaml."""

    prefixes: list[str] = MISSING
    num_chars: int = MISSING
    temperature: float = MISSING
    top_k: int | None = None
    num_samples: int = MISSING
    seed: int = MISSING
    format: str = MISSING
    copy_rate: bool = False


@dataclass
class StudioSchema(CheckpointToolSchema):
    """The top-level keys of studio.yaml (`ckpt_path`: one checkpoint; `compare_ckpt_path`: a second
    one that writes beside it)."""

    compare_ckpt_path: str | None = None
    host: str = MISSING
    port: int = MISSING
    queue_size: int = MISSING
    concurrency: int = MISSING
    limits: Limits = dataclasses.field(default_factory=Limits)
    ngram_order: int = MISSING


@dataclass
class ExplainSchema(CheckpointToolSchema):
    """The top-level keys of explain.yaml."""

    source: str = MISSING
    text: str | None = None
    out: str = MISSING
    limits: Limits = dataclasses.field(default_factory=Limits)
    ngram_order: int = MISSING


@dataclass
class EvaluateDataSchema:
    """The keys of evaluate.yaml's `data`: any text file instead of a part of the checkpoint's corpus."""

    path: str | None = None
    member: str | None = None
    num_sample: int | None = None


@dataclass
class EvaluateSchema(CheckpointToolSchema):
    """The top-level keys of evaluate.yaml."""

    split: str | None = MISSING
    adapt: str = MISSING
    data: EvaluateDataSchema = MISSING
    batch_size: int = MISSING
    num_steps: int = MISSING
    ensemble_weights: str = MISSING
    ngram_order: int = MISSING


@dataclass
class NgramSchema(CorpusEntrySchema):
    """The top-level keys of ngram.yaml: besides the corpus, the n of the n-gram and the longest
    context the cache of already scored text matches."""

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
        if values == {
            int,
            float,
        }:  # Lightning reads 1 as one batch and 1.0 as all of them: keep what was typed
            return Any
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
        if name in skip or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        default = MISSING if parameter.default is inspect.Parameter.empty else parameter.default
        if isinstance(default, tuple | list):  # a list default must be built afresh for each config
            default = dataclasses.field(default_factory=functools.partial(list, default))
        fields.append((name, _checkable(hints.get(name, Any)), default))
    return dataclasses.make_dataclass(f"{target.__name__}Schema", fields)


def model_schema(cell: str) -> type:
    """A model config of `cell`: CharLM's own arguments and the settings of that network's Config."""
    config = config_class(cell)
    hints = typing.get_type_hints(config)
    fields = [(f.name, _checkable(hints[f.name]), f.default) for f in dataclasses.fields(config)]
    own = schema_of(CharLM, skip=("vocab", "corpus"))
    return dataclasses.make_dataclass(f"CharLMWith{config.__name__}", fields, bases=(own,))


def cpu_share(n_jobs: int) -> int:
    """Torch threads for one of `n_jobs` jobs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, n_jobs))


def register_configs() -> None:
    """Make the schemas and the `cpu_share` resolver known; call before composing (scripts and tests do)."""
    OmegaConf.register_new_resolver("cpu_share", cpu_share, replace=True)
    store = ConfigStore.instance()
    for name in (
        "train",
        "generate",
        "evaluate",
        "ngram",
        "studio",
        "explain",
    ):  # whole entry configs: typed at their root
        store.store(group="schema", name=name, node=globals()[f"{name.title()}Schema"], package="_global_")
    for name, node in {
        "data": schema_of(LyricsDataModule),
        "sampler/random": schema_of(RandomSampler, skip=("num_tokens",), partial=True),
        "sampler/consecutive": schema_of(ConsecutiveSampler, skip=("num_tokens",), partial=True),
        **{f"model/{cell}": model_schema(cell) for cell in NETWORKS},
        # Lightning's own settings too: `trainer.max_epochs=abc` fails at composition, naming the key.
        "trainer": schema_of(L.Trainer, skip=("callbacks", "logger")),
        "callbacks/model_checkpoint": schema_of(ModelCheckpoint),
        "callbacks/lyrics_samples": schema_of(LyricsSamples),
        "callbacks/epoch_speed": schema_of(EpochSpeed),
        "callbacks/surprisal_view": schema_of(SurprisalView),
        "callbacks/progress_bar": schema_of(TQDMProgressBar),
        "callbacks/divergence_guard": schema_of(DivergenceGuard),
        "callbacks/exact_resume": schema_of(ExactResume),
    }.items():
        group, _, leaf = f"schema/{name}".rpartition("/")
        store.store(group=group, name=leaf, node=node)


def union_numbers(target: type) -> list[str]:
    """The parameters of `target` typed `int | float` (left untyped by the schema, which would make every
    int a float): checked by `check_union_numbers` instead."""
    hints = typing.get_type_hints(target.__init__)
    return [
        name
        for name in inspect.signature(target).parameters
        if set(typing.get_args(hints.get(name))) - {type(None)} == {int, float}
    ]


def check_union_numbers(node: DictConfig, target: type, name: str) -> None:
    """Each `int | float` setting of `node` (see `union_numbers`) is a number or null."""
    for key in union_numbers(target):
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise LyricsError(
                f"{name}.{key}={value!r} must be a number: an integer counts (e.g. batches), a fraction is a share."
            )


def check_numbers(node: DictConfig | None, name: str) -> None:
    """Hydra hands a partial's settings (model.optimizer, model.scheduler) over unchecked: a number given
    as text (`model.optimizer.lr=abc`) is refused here, by name, not deep inside torch."""
    if node is None:
        return
    parameters = inspect.signature(get_object(node._target_)).parameters
    for key, value in node.items():
        if key.startswith("_"):  # _target_, _partial_
            continue
        default = parameters[key].default if key in parameters else None
        number = isinstance(default, int | float) and not isinstance(default, bool)
        if number and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise LyricsError(f"{name}.{key}={value!r} must be a number, e.g. {name}.{key}={default}.")

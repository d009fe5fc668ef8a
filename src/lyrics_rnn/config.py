"""Typed schemas for the Hydra configs, so a wrong type fails at composition, before any training.

They hold types only; the values live in the YAML files of conf/, each of which names its schema first
in its defaults list (e.g. `- /schema/sampler/random@_here_`). Defaults here are only for keys a YAML
file may leave out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from lyrics_rnn.corpus import MAX_BYTES


@dataclass
class DataSchema:
    _target_: str = MISSING
    path: str = MISSING
    member: str | None = None
    url: str | None = None
    sha256: str | None = None
    num_sample: int | None = MISSING
    split: list[float] = MISSING
    min_freq: int = 1
    val_batch_size: int = MISSING
    max_bytes: int = MAX_BYTES
    sampler: Any = MISSING


@dataclass
class ConsecutiveSamplerSchema:
    _target_: str = MISSING
    _partial_: bool = True
    batch_size: int = MISSING
    num_steps: int = MISSING


@dataclass
class RandomSamplerSchema(ConsecutiveSamplerSchema):
    seed: int = MISSING


@dataclass
class ModelSchema:
    _target_: str = MISSING
    cell: str = MISSING
    num_hiddens: int = MISSING
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    embedding_dim: int | None = None
    tie_weights: bool = False
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0
    weight_dropout: float = 0.0
    optimizer: Any = MISSING
    scheduler: Any = None


@dataclass
class TrainSchema:
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
class GenerateSchema:
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
class EvaluateSchema:
    ckpt_path: str = MISSING
    split: str | None = MISSING
    adapt: str = MISSING
    data: EvaluateDataSchema = MISSING
    batch_size: int = MISSING
    num_steps: int = MISSING
    ngram_order: int = MISSING
    device: str = MISSING


@dataclass
class NgramSchema:
    data: Any = MISSING
    paths: Any = MISSING
    order: int = MISSING
    cache_order: int = MISSING


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
        "data": DataSchema,
        "sampler/random": RandomSamplerSchema,
        "sampler/consecutive": ConsecutiveSamplerSchema,
        "model": ModelSchema,
    }.items():
        group, _, leaf = f"schema/{name}".rpartition("/")
        store.store(group=group, name=leaf, node=node)

"""Shared fixtures: a tiny corpus written per test, Hydra configs composed into tmp_path, the real corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import LYRICS, ROOT, compose_config, tiny_overrides
from omegaconf import DictConfig

from lyrics_rnn.config import register_configs
from lyrics_rnn.corpus import ensure_corpus

register_configs()


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(LYRICS, encoding="utf-8")
    return path


@pytest.fixture
def compose_train(tmp_path: Path, tiny_corpus: Path) -> Callable[..., DictConfig]:
    """Compose conf/train.yaml for the tiny corpus, writing into tmp_path, plus extra overrides."""

    def _compose(*overrides: str, out: Path = tmp_path / "run") -> DictConfig:
        return compose_config("train", *tiny_overrides(tiny_corpus, out), *overrides)

    return _compose


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    """The Jay Chou corpus in data/ (CI copies it there; elsewhere it is downloaded and checked)."""
    data = compose_config("train", f"paths.root_dir={ROOT}", "paths.output_dir=unused").data
    return ensure_corpus(data.path, data.url, data.sha256)

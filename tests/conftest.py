"""Shared fixtures: a tiny corpus written per test, Hydra configs composed into tmp_path, the real corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lyrics_rnn.config import register_configs
from lyrics_rnn.corpus import ensure_corpus

register_configs()

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
LYRICS = (
    "分开 我不要再想 我不要再想 我不 我不 我不要再想你\n不知不觉 你已经离开我\n不分开 为什么我女朋友场外加油\n"
    * 6
)


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(LYRICS, encoding="utf-8")
    return path


def tiny_overrides(corpus: Path, out: Path) -> list[str]:
    """A run of seconds: small corpus, small network, two epochs, a sample every epoch."""
    return [
        f"data.path={corpus}",
        "data.url=null",
        "data.num_sample=null",
        "data.split=[0.8,0.2,0]",
        f"paths.data_dir={out / 'data'}",
        f"paths.log_dir={out}",
        f"paths.output_dir={out}",
        "sampler.batch_size=3",
        "sampler.num_steps=5",
        "model.num_hiddens=16",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false",
        "callbacks.lyrics_samples.pred_period=1",
        "callbacks.lyrics_samples.pred_len=8",
    ]


@pytest.fixture
def compose_train(tmp_path: Path, tiny_corpus: Path) -> Callable[..., DictConfig]:
    """Compose conf/train.yaml for the tiny corpus, writing into tmp_path, plus extra overrides."""

    def _compose(*overrides: str, out: Path = tmp_path / "run") -> DictConfig:
        return compose_config("train", *tiny_overrides(tiny_corpus, out), *overrides)

    return _compose


def compose_config(name: str, *overrides: str) -> DictConfig:
    """conf/<name>.yaml with overrides, resolved, as Hydra's compose API builds it."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    OmegaConf.resolve(cfg)
    return cfg


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    """The Jay Chou corpus in data/ (CI copies it there; elsewhere it is downloaded and checked)."""
    data = compose_config("train", f"paths.root_dir={ROOT}", "paths.output_dir=unused").data
    return ensure_corpus(data.path, data.url, data.sha256)


def events(run_dir: Path) -> EventAccumulator:
    """Everything TensorBoard would show for one run folder, read with TensorBoard's own reader."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator

"""What defines a run and what it achieved, as flat readable names: the rows of TensorBoard's HParams
table, of MLflow's run list and of the report's CSV, so a sweep's runs compare at a glance."""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.module import network_settings

METRICS = ("train_ppl", "val_ppl_best", "val_ppl", "test_ppl", "wall_s", "chars_per_s")


def run_params(cfg: DictConfig) -> dict[str, Any]:
    """The settings that tell runs apart (a composed train config in, plain values out): the network's
    settings as its config holds them, then the optimiser, the sampler, the trainer and the data."""
    network = vars(network_settings(OmegaConf.to_container(cfg.model, resolve=True)))
    optimizer = with_defaults(cfg.model.optimizer)
    params = {
        "model": network.pop("cell"),
        "sampler": cfg.sampler._target_.rsplit(".", 1)[-1].removesuffix("Sampler").lower(),
        **network,
        "optimizer": cfg.model.optimizer._target_.rsplit(".", 1)[-1],
        "lr": optimizer["lr"],
        "weight_decay": optimizer.get("weight_decay"),
        "batch_size": cfg.sampler.batch_size,
        "num_steps": cfg.sampler.num_steps,
        "gradient_clip_val": cfg.trainer.gradient_clip_val,
        "max_epochs": cfg.trainer.max_epochs,
        "seed": cfg.seed,
        "data": str(cfg.data.path).rsplit("/", 1)[-1],
        "split": "/".join(f"{share:g}" for share in cfg.data.split),
    }
    # TensorBoard's HParams plugin takes numbers, strings and booleans only.
    return {name: "null" if value is None else value for name, value in params.items()}


def with_defaults(node: DictConfig) -> dict[str, Any]:
    """A partial's settings over the defaults of what it makes (torch.optim.AdamW's weight decay...)."""
    parameters = inspect.signature(get_object(node._target_)).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    return {**defaults, **{k: v for k, v in node.items() if not k.startswith("_")}}


def final_metrics(logged: dict[str, float], best_val: float | None, wall_s: float) -> dict[str, float]:
    """The run's results under `final/` names (distinct from the per-epoch curves they summarise)."""
    values = {
        "train_ppl": logged.get("train/ppl"),
        "val_ppl_best": best_val,
        "val_ppl": logged.get("val/ppl"),
        "test_ppl": logged.get("test/ppl"),
        "wall_s": wall_s,
        "chars_per_s": logged.get("time/chars_per_s"),
    }
    return {f"final/{name}": float(value) for name, value in values.items() if value is not None}

"""What defines a run and what it achieved, as flat readable names: the rows of TensorBoard's HParams
table, of MLflow's run list and of the report's CSV, so a sweep's runs compare at a glance."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

METRICS = ("train_ppl", "val_ppl_best", "val_ppl", "test_ppl", "wall_s", "chars_per_s")


def run_params(cfg: DictConfig) -> dict[str, Any]:
    """The settings that tell runs apart (a composed train config in, plain values out)."""
    model, optimizer = cfg.model, cfg.model.optimizer
    params = {
        "model": model.cell,
        "sampler": cfg.sampler._target_.rsplit(".", 1)[-1].removesuffix("Sampler").lower(),
        "num_hiddens": model.num_hiddens,
        "num_layers": model.get("num_layers", 1),
        "dropout": model.get("dropout", 0.0),
        "embedding_dim": model.get("embedding_dim"),
        "tie_weights": model.get("tie_weights", False),
        "embedding_dropout": model.get("embedding_dropout", 0.0),
        "output_dropout": model.get("output_dropout", 0.0),
        "weight_dropout": model.get("weight_dropout", 0.0),
        "token_dropout": model.get("token_dropout", 0.0),
        "ensemble": model.get("ensemble", 1),
        "optimizer": optimizer._target_.rsplit(".", 1)[-1],
        "lr": optimizer.lr,
        "weight_decay": optimizer.get("weight_decay", 0.0),
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

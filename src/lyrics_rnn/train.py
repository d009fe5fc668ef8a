"""`train(cfg)`: build data, model, callbacks, loggers and trainer from a Hydra config, fit, report."""

from __future__ import annotations

import logging
import time

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.checkpoint import read_checkpoint
from lyrics_rnn.datamodule import PARTS
from lyrics_rnn.summary import final_metrics, run_params

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train as `cfg` says and return the final logged metrics (`cfg.optimized_metric` among them)."""
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    # The vocabulary size is known only once the corpus is read; the model is built from it.
    datamodule.prepare_data()
    datamodule.setup("fit")
    if not datamodule.has("val") and cfg.optimized_metric.startswith("val/"):
        raise ValueError(
            f"data.split={list(cfg.data.split)} has no validation part, so {cfg.optimized_metric} is "
            "never logged: also set optimized_metric=train/ppl."
        )
    model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=build_loggers(cfg.get("logger") or {}))
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    start = time.perf_counter()
    log.info("torch CPU threads: %d", torch.get_num_threads())
    sizes = " / ".join(f"{len(datamodule.ids[part])} {part}" for part in PARTS)
    unk = "with <unk>" if datamodule.vocab.unk is not None else "no <unk>"
    log.info("corpus: %s characters, vocabulary of %d (%s)", sizes, len(datamodule.vocab), unk)

    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    if datamodule.has("test"):
        # The test part is scored once, by the weights that validation chose (or the last ones). Loaded
        # here rather than through trainer.test(ckpt_path=...), whose restore hands a weight-averaging
        # callback the checkpoint's raw weights instead of the averaged ones validation scored.
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if best:
            model.load_state_dict(read_checkpoint(best)["state_dict"])
        log.info("testing %s", best or "the final weights")
        (tested,) = trainer.test(model, datamodule=datamodule)
        metrics.update(tested)
    log.info("final metrics: %s", ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    log_summary(trainer, cfg, metrics, time.perf_counter() - start)
    return metrics


def build_loggers(configs: DictConfig | dict) -> list[Logger]:
    """The configured loggers; one whose package is missing is left out with a warning when others
    remain (`logger=many` without MLflow), and is an error when it was the only one asked for."""
    loggers, missing = [], []
    for name, node in configs.items():
        try:
            loggers.append(instantiate(node))
        except InstantiationException as error:
            if not isinstance(error.__cause__, ModuleNotFoundError):
                raise
            missing.append(f"logger.{name} ({error.__cause__})")
    if missing and not loggers:
        raise ValueError(
            f"{', '.join(missing)}: install it (pip install -e '.[mlflow]') or pick another logger."
        )
    if missing:
        log.warning("logging without %s", ", ".join(missing))
    return loggers


def log_summary(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float], wall_s: float) -> None:
    """One row per run in each logger's run table: the settings and final results (TensorBoard's
    HParams dashboard, MLflow's parameters and metrics, the CSV logger's files)."""
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_score if checkpoint and checkpoint.monitor == "val/ppl" else None
    params = run_params(cfg)
    final = final_metrics(metrics, None if best is None else float(best), wall_s)
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, metrics=final, step=trainer.global_step)  # the HParams session
        else:
            logger.log_hyperparams(params)
            logger.log_metrics(final, step=trainer.global_step)
        logger.save()

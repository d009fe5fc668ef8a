"""`train(cfg)`: build data, model, callbacks, loggers and trainer from a Hydra config, fit, report."""

from __future__ import annotations

import logging

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

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
    if datamodule.val_partition is None and cfg.optimized_metric.startswith("val/"):
        raise ValueError(
            f"data.val_fraction={cfg.data.val_fraction} turns validation off, so {cfg.optimized_metric} is "
            "never logged: also set optimized_metric=train/ppl."
        )
    model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    log.info("torch CPU threads: %d", torch.get_num_threads())
    log.info(
        "corpus: %d train / %d validation characters, vocabulary of %d",
        len(datamodule.train_ids),
        len(datamodule.val_ids),
        len(datamodule.vocab),
    )

    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    log.info("final metrics: %s", ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    return metrics

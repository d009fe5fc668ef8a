"""`train(cfg)`: build data, model, callbacks, loggers and trainer from a Hydra config, fit, report."""

from __future__ import annotations

import logging

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.checkpoint import read_checkpoint
from lyrics_rnn.datamodule import PARTS

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
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
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
    return metrics

"""`train(cfg)`: build data, model, callbacks, loggers and trainer from a Hydra config, fit, report."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from lyrics_rnn.checkpoint import read_checkpoint
from lyrics_rnn.config import check_numbers, check_union_numbers
from lyrics_rnn.errors import LyricsError, Stopped
from lyrics_rnn.hardware import auto_precision
from lyrics_rnn.hparams import final_metrics, run_params
from lyrics_rnn.module import CharLM, network_settings

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train as `cfg` says and return the final logged metrics (`cfg.optimized_metric` among them)."""
    check_settings(cfg)
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    # The vocabulary size is known only once the corpus is read; the model is built from it.
    datamodule.prepare_data()
    datamodule.setup("fit")
    logged = {"train/ppl", "train/loss"} | ({"val/ppl", "val/loss"} if datamodule.has("val") else set())
    if cfg.optimized_metric not in logged:
        raise LyricsError(
            f"optimized_metric={cfg.optimized_metric} is never logged with data.split={list(cfg.data.split)}; "
            f"choose one of {sorted(logged)}."
        )
    check_validation_interval(cfg.trainer, len(datamodule.train_sampler))
    corpus = datamodule.corpus.record()
    model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char, corpus=corpus, _convert_="all")
    if cfg.get("ckpt_path"):
        check_resume(cfg.ckpt_path, model, cfg.trainer.max_epochs)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    if cfg.trainer.get("enable_progress_bar") is False:  # the configured bar follows the trainer's switch
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    precision = {}
    if cfg.trainer.get("precision") == "auto":
        precision = {"precision": auto_precision(cfg.trainer.get("accelerator", "auto"))}
    loggers = build_loggers(cfg.get("logger") or {})
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers, **precision)
    # Checked before DDP starts its processes, each of which would print the error again.
    datamodule.train_sampler.check_shards(trainer.world_size)
    settings = OmegaConf.to_container(cfg, resolve=True)
    settings["trainer"]["precision"] = trainer.precision  # what runs: 16-mixed becomes bf16-mixed on a CPU
    for logger in trainer.loggers:
        logger.log_hyperparams(settings)
    start = time.perf_counter()
    log.info("torch CPU threads: %d", torch.get_num_threads())
    sizes = " / ".join(f"{len(ids)} {part}" for part, ids in datamodule.ids.items())
    unk = "with <unk>" if datamodule.vocab.unk is not None else "no <unk>"
    log.info("corpus: %s characters, vocabulary of %d (%s)", sizes, len(datamodule.vocab), unk)

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except SIGTERMException as stop:  # a SystemExit without a status: it would end the run with 0
        raise Stopped(stopped_message(trainer)) from stop

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
    if cfg.optimized_metric not in metrics:
        log.warning(
            "%s was never logged: the run stopped before it (trainer.max_steps inside an epoch?); "
            "set trainer.val_check_interval to validate within long epochs",
            cfg.optimized_metric,
        )
    log_summary(trainer, cfg, metrics, time.perf_counter() - start)
    return metrics


def stopped_message(trainer: L.Trainer) -> str:
    """Where a run stopped by SIGTERM resumes from: the newest checkpoint written."""
    written = [
        Path(p) for c in trainer.checkpoint_callbacks for p in (c.last_model_path, c.best_model_path) if p
    ]
    written = [path for path in written if path.is_file()]
    where = (
        f"resume with ckpt_path={max(written, key=lambda p: p.stat().st_mtime)}"
        if written
        else "no checkpoint was written yet"
    )
    return f"training stopped by SIGTERM in epoch {trainer.current_epoch + 1}; {where}."


def check_settings(cfg: DictConfig) -> None:
    """Settings that would train nothing, or train wrongly without a word: refused before any work."""
    if not 0 <= cfg.seed < 2**32:
        raise LyricsError(f"seed={cfg.seed} must be between 0 and 2**32 - 1 (numpy's seeds), e.g. seed=0.")
    if cfg.get("threads") is not None and cfg.threads < 1:
        raise LyricsError(f"threads={cfg.threads} must be at least 1, or null for all cores.")
    if (cfg.get("threads") or 0) > (os.cpu_count() or 1):
        log.warning(
            "threads=%d is more than this machine's %d cores: slower, not faster", cfg.threads, os.cpu_count()
        )
    max_epochs = cfg.trainer.get("max_epochs")
    if max_epochs is not None and (max_epochs == 0 or max_epochs < -1):
        raise LyricsError(f"trainer.max_epochs={max_epochs} trains nothing; give at least 1 (-1: no limit).")
    every = cfg.trainer.get("check_val_every_n_epoch")
    if every is not None and every < 1:
        raise LyricsError(f"trainer.check_val_every_n_epoch={every} must be at least 1 (1: every epoch).")
    accumulate = cfg.trainer.get("accumulate_grad_batches")
    if accumulate is not None and accumulate < 1:
        raise LyricsError(
            f"trainer.accumulate_grad_batches={accumulate} must be at least 1 (1: a step per batch)."
        )
    if cfg.trainer.get("max_steps") == 0:
        raise LyricsError("trainer.max_steps=0 trains nothing; give at least 1 (-1: no limit).")
    if cfg.trainer.get("limit_train_batches") == 0:
        raise LyricsError(
            "trainer.limit_train_batches=0 trains nothing; give a count or a fraction of an epoch."
        )
    check_optimizer(cfg.model)
    check_union_numbers(cfg.trainer, L.Trainer, "trainer")
    clip = cfg.trainer.get("gradient_clip_val")
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        raise LyricsError(
            f"trainer.gradient_clip_val={clip} must be positive (a negative one climbs the loss), "
            "or null for no clipping."
        )


def check_optimizer(model: DictConfig) -> None:
    """The optimiser's and scheduler's settings, checked by building them once over a dummy weight."""
    check_numbers(model.get("optimizer"), "model.optimizer")
    check_numbers(model.get("scheduler"), "model.scheduler")
    if model.get("optimizer") is None:
        return
    try:
        optimizer = instantiate(model.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    except ValueError as error:  # torch's own checks: "Invalid learning rate: -1.0", ...
        raise LyricsError(f"model.optimizer: {error}; fix that setting.") from error
    lr = optimizer.param_groups[0]["lr"]
    if not (math.isfinite(lr) and lr > 0):
        raise LyricsError(f"model.optimizer.lr={lr} must be a finite number above 0, e.g. 1e-3.")


def check_validation_interval(trainer: DictConfig, batches: int) -> None:
    """A batch count between validations that an epoch never reaches (Lightning's ValueError, in fit)."""
    every = trainer.get("val_check_interval")
    counted_per_epoch = trainer.get("check_val_every_n_epoch") is not None
    if isinstance(every, int) and not isinstance(every, bool) and every > batches and counted_per_epoch:
        raise LyricsError(
            f"trainer.val_check_interval={every} is more than the {batches} training batches of an epoch; "
            f"give at most {batches}, a fraction of an epoch (e.g. 0.5), or also "
            "trainer.check_val_every_n_epoch=null to count batches across epochs."
        )


def check_resume(path: str, model: CharLM, max_epochs: int | None) -> None:
    """A checkpoint resumes this run only if it holds the same network over the same vocabulary, and has
    epochs left to train: Lightning would otherwise remap the characters, fail on shapes, or do nothing."""
    checkpoint = read_checkpoint(path)
    saved = checkpoint["hyper_parameters"]
    if list(saved["vocab"]) != model.vocab.idx_to_char:
        differ = sorted(set(saved["vocab"]) ^ set(model.vocab.idx_to_char))
        raise LyricsError(
            f"{path} was trained on another vocabulary ({len(saved['vocab'])} characters) than this corpus's "
            f"({len(model.vocab)}; not in both: {''.join(differ)[:20]!r}); resume with the data it was trained on."
        )
    held, asked = network_settings(saved).shapes(), model.config.shapes()
    for name, value in asked.items():
        if held.get(name) != value:
            raise LyricsError(
                f"{path} holds model.{name}={held.get(name)}, this run asks for {value}; "
                "resume with the model settings it was trained with."
            )
    done = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    if max_epochs is not None and 0 < max_epochs <= done:
        raise LyricsError(
            f"{path} has trained {done} epochs already; set trainer.max_epochs above {done} to train on."
        )


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
        raise LyricsError(
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

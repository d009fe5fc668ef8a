"""The typed schemas: wrong keys and types fail at composition; the shipped presets hold what they say."""

import pytest
from helpers import BOOK, CONF_DIR, compose_config
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from lyrics_rnn.config import check_numbers
from lyrics_rnn.errors import LyricsError


def test_heldout_config_is_the_fixed_evaluation():
    data = compose_config("train", "data=jaychou_heldout", "paths.output_dir=unused").data
    assert data.num_sample is None and list(data.split) == [0.8, 0.1, 0.1] and data.min_freq == 2


def test_a_number_given_as_text_to_the_optimizer_or_scheduler_is_named():
    sgd = OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": "fast", "momentum": 0.9})
    with pytest.raises(
        LyricsError, match=r"model.optimizer.lr='fast' must be a number, e.g. model.optimizer.lr=0.001"
    ):
        check_numbers(sgd, "model.optimizer")
    plateau = OmegaConf.create(
        {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "factor": True, "mode": "min"}
    )
    with pytest.raises(LyricsError, match=r"model.scheduler.factor=True must be a number"):
        check_numbers(plateau, "model.scheduler")
    check_numbers(
        OmegaConf.create({"_target_": "torch.optim.AdamW", "lr": 1, "betas": [0.9, 0.99]}), "model.optimizer"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampler.batch_size=abc"], "'abc' of type 'str' could not be converted to Integer"),
        (["model.num_hiddens=1.5"], "could not be converted to Integer"),
        (["data.min_freq=lots"], "could not be converted to Integer"),
        (["sampler=consecutive", "sampler.seed=3"], "Key 'seed' not in 'ConsecutiveSamplerSchema'"),
        (["trainer.max_epochs=abc"], "'abc' of type 'str' could not be converted to Integer"),
        (["trainer.max_epoch=3"], "Key 'max_epoch' not in 'TrainerSchema'"),
        (["callbacks.lyrics_samples.pred_period=often"], "could not be converted to Integer"),
        (["callbacks.best_checkpoint.save_top_k=all"], "could not be converted to Integer"),
        (["model=scratch", "model.num_layers=2"], "Key 'num_layers' not in 'CharLMWithNetworkConfig'"),
        (["model=lstm", "model.embedding_dim=wide"], "could not be converted to Integer"),
    ],
)
def test_type_errors_are_caught_when_composing(compose_train, overrides, message):
    with pytest.raises(ConfigCompositionException) as error:
        compose_train(*overrides)
    assert message in str(error.value.__cause__)


def test_every_trainer_argument_is_a_key_and_a_count_stays_a_count(compose_train):
    """Lightning's arguments need no `+`. Those typed `int | float` keep what was typed: for Lightning
    `limit_train_batches=1` is one batch and `1.0` every batch."""
    cfg = compose_train("trainer.max_steps=3", "trainer.profiler=simple", "trainer.limit_train_batches=1",
                        "trainer.limit_val_batches=0.5")  # fmt: skip
    assert cfg.trainer.max_steps == 3 and cfg.trainer.profiler == "simple"
    assert type(cfg.trainer.limit_train_batches) is int and type(cfg.trainer.limit_val_batches) is float


def test_gpu_trainer_config_composes_for_one_gpu(tmp_path):
    cfg = compose_config(
        "train", "trainer=gpu", "trainer.precision=bf16-mixed", f"paths.output_dir={tmp_path}"
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 1
    assert cfg.trainer.gradient_clip_val == 0.01 and cfg.trainer.plugins[0]._target_.endswith(
        "AtomicCheckpointIO"
    )


def test_slurm_launcher_config_composes(tmp_path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.nodes == 1 and launcher.timeout_min == 240
    assert cfg.threads is None  # a cluster job owns its cores


@pytest.mark.parametrize("experiment", sorted(BOOK))
def test_book_experiment_configs_match_the_reference(experiment, tmp_path):
    cfg = compose_config("train", f"experiment={experiment}", f"paths.output_dir={tmp_path}")
    model, optimizer, lr, epochs, sampler, ppl = BOOK[experiment]
    assert cfg.model.cell == model and cfg.model.optimizer._target_ == f"torch.optim.{optimizer}"
    assert cfg.model.optimizer.lr == lr and cfg.trainer.max_epochs == epochs
    assert cfg.sampler._target_.endswith(f"{sampler.capitalize()}Sampler")
    assert list(cfg.data.split) == [1, 0, 0] and cfg.optimized_metric == "train/ppl" and cfg.book_ppl == ppl
    assert cfg.model.num_hiddens == 256 and cfg.sampler.batch_size == 32 and cfg.sampler.num_steps == 35
    assert cfg.trainer.gradient_clip_val == 0.01 and cfg.data.num_sample == 10000

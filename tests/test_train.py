import math
import os

import pytest
import torch
from helpers import compose_config, events
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import TQDMProgressBar

from lyrics_rnn.checkpoint import load_model
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.module import CharLM
from lyrics_rnn.train import check_settings, train


@pytest.mark.parametrize("sampler", ["random", "consecutive"])
@pytest.mark.parametrize("model", ["scratch", "scratch_gru", "scratch_lstm", "rnn", "gru", "lstm"])
def test_every_model_and_sampler_trains(compose_train, tmp_path, model, sampler):
    cfg = compose_train(f"model={model}", f"sampler={sampler}")
    metrics = train(cfg)
    assert {"train/loss", "train/ppl", "val/loss", "val/ppl", "train/grad_norm"} <= metrics.keys()
    assert math.isclose(metrics["train/ppl"], math.exp(metrics["train/loss"]), rel_tol=1e-5)
    assert 1 < metrics["val/ppl"] < 1e4
    checkpoints = tmp_path / "run" / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    assert len(list(checkpoints.glob("epoch*-ppl*.ckpt"))) == 1


def test_tensorboard_has_perplexity_curves_and_lyrics(compose_train, tmp_path):
    train(compose_train())
    accumulator = events(tmp_path / "run")
    scalars = accumulator.Tags()["scalars"]
    assert {
        "train/ppl",
        "val/ppl",
        "train/loss",
        "train/grad_norm",
        "time/epoch_s",
        "time/chars_per_s",
    } <= set(scalars)
    assert len(accumulator.Scalars("train/ppl")) == 2  # one point per epoch
    samples = accumulator.Tensors("samples/text_summary")
    text = samples[-1].tensor_proto.string_val[0].decode()
    assert "- 分开" in text and "- 不分开" in text


def test_same_seed_gives_the_same_numbers(compose_train, tmp_path):
    first = train(compose_train("model=lstm", "sampler=random", out=tmp_path / "a"))
    second = train(compose_train("model=lstm", "sampler=random", out=tmp_path / "b"))
    other = train(compose_train("model=lstm", "sampler=random", "seed=1", out=tmp_path / "c"))
    learned = {name for name in first if not name.startswith("time/")}  # wall-clock timings differ
    assert {n: first[n] for n in learned} == {n: second[n] for n in learned}
    assert len(learned) == 5 and first["train/ppl"] != other["train/ppl"]


def test_checkpoint_holds_vocabulary_and_rebuilds_the_model(compose_train, tmp_path):
    train(compose_train("model=gru"))
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    model = CharLM.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["vocab"] == model.vocab.idx_to_char
    assert "分" in model.vocab.char_to_idx and model.hparams.cell == "gru"


def test_without_validation_train_ppl_is_the_metric(compose_train):
    with pytest.raises(
        LyricsError, match=r"optimized_metric=val/ppl is never logged.*\['train/loss', 'train/ppl'\]"
    ):
        train(compose_train("data.split=[1,0,0]"))
    metrics = train(compose_train("data.split=[1,0,0]", "optimized_metric=train/ppl"))
    assert "val/ppl" not in metrics and metrics["train/ppl"] > 1


def test_fast_dev_run_profile(compose_train):
    metrics = train(compose_train("debug=fast_dev_run", "sampler=consecutive"))
    assert math.isfinite(metrics["train/ppl"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampler.batch_size=abc"], "'abc' of type 'str' could not be converted to Integer"),
        (["model.num_hiddens=1.5"], "could not be converted to Integer"),
        (["data.min_freq=lots"], "could not be converted to Integer"),
        (["sampler=consecutive", "sampler.seed=3"], "Key 'seed' not in 'ConsecutiveSamplerSchema'"),
        (["trainer.max_epochs=abc"], "'abc' of type 'str' could not be converted to Integer"),
        (["trainer.gradient_clip_val=abc"], "could not be converted to Float"),
        (["trainer.max_epoch=3"], "Key 'max_epoch' not in 'TrainerSchema'"),
        (["callbacks.lyrics_samples.pred_period=often"], "could not be converted to Integer"),
        (["callbacks.best_checkpoint.save_top_k=all"], "could not be converted to Integer"),
    ],
)
def test_type_errors_are_caught_when_composing(compose_train, overrides, message):
    with pytest.raises(ConfigCompositionException) as error:
        compose_train(*overrides)
    assert message in str(error.value.__cause__)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.split=[0.5,0.6,0]"], r"data.split=\[0.5, 0.6, 0.0\] must be three shares"),
        (["sampler.num_steps=0"], "must both be at least 1"),
        (["sampler.batch_size=64"], "too short for one batch of batch_size=64"),
        (["data.val_batch_size=100"], "val part .* too short for 100 streams"),
        (["model=scratch", "model.num_layers=2"], "scratch network has one layer"),
    ],
)
def test_bad_values_are_refused_before_training(compose_train, tmp_path, overrides, message):
    with pytest.raises(Exception, match=message):
        train(compose_train(*overrides))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_every_trainer_argument_is_a_typed_key(compose_train):
    """Lightning's arguments need no `+`; an int given for a float one becomes a float."""
    cfg = compose_train("trainer.max_steps=3", "trainer.profiler=simple", "trainer.gradient_clip_val=1")
    assert cfg.trainer.max_steps == 3 and cfg.trainer.profiler == "simple"
    assert isinstance(cfg.trainer.gradient_clip_val, float)


def test_gpu_trainer_config_composes_for_one_gpu(tmp_path):
    cfg = compose_config(
        "train", "trainer=gpu", "trainer.precision=bf16-mixed", f"paths.output_dir={tmp_path}"
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 1
    assert cfg.trainer.gradient_clip_val == 0.01 and cfg.trainer.plugins[0]._target_.endswith(
        "AtomicCheckpointIO"
    )


@pytest.mark.parametrize("model", ["scratch", "lstm"])
def test_bf16_mixed_precision_trains_on_the_cpu(compose_train, model):
    metrics = train(compose_train(f"model={model}", "trainer.precision=bf16-mixed"))
    assert math.isfinite(metrics["train/ppl"]) and math.isfinite(metrics["val/ppl"])


def test_a_foreign_corpus_trains_to_the_end_with_samples_from_its_own_text(compose_train, tmp_path):
    """English text, default prefixes 分开/不分开: the samples fall back to the held-out text's start."""
    corpus = tmp_path / "english.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\r\n" * 12, encoding="utf-8")
    with pytest.warns(UserWarning, match="outside this corpus's vocabulary"):
        metrics = train(compose_train(f"data.path={corpus}"))
    assert math.isfinite(metrics["val/ppl"]) and (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    text = events(tmp_path / "run").Tensors("samples/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert text.startswith("- ") and "分" not in text


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
@pytest.mark.parametrize("model", ["scratch", "scratch_gru", "scratch_lstm", "rnn", "gru", "lstm"])
def test_every_model_trains_in_full_double_and_bfloat16_precision(compose_train, model, precision):
    """A zero state takes the weights' dtype (state None), so no model mixes float32 into 64 or bf16."""
    metrics = train(compose_train(f"model={model}", f"trainer.precision={precision}", "trainer.max_epochs=1"))
    assert math.isfinite(metrics["train/ppl"]) and math.isfinite(metrics["val/ppl"])


def test_a_compiled_network_trains_to_the_eager_losses(compose_train, tmp_path):
    """model.compile=true (torch.compile of the network, default callbacks on): the same losses as eager."""
    eager = train(compose_train("trainer.max_epochs=2"))
    compiled = train(compose_train("trainer.max_epochs=2", "model.compile=true", out=tmp_path / "compiled"))
    for name in ("train/loss", "val/loss"):
        assert compiled[name] == pytest.approx(eager[name], rel=1e-5)
    model = CharLM(vocab=list("ab"), cell="scratch", num_hiddens=4, compile=True)
    model.configure_model()
    assert model.net._compiled_call_impl is not None  # what nn.Module.compile sets: compiled, not eager
    # The checkpoint holds the plain network's weight names: it loads (eager) like any other.
    loaded = [load_model(tmp_path / run / "checkpoints" / "last.ckpt") for run in ("run", "compiled")]
    assert loaded[0].state_dict().keys() == loaded[1].state_dict().keys()


def test_more_threads_than_cores_is_warned(compose_train, caplog):
    check_settings(compose_train(f"threads={(os.cpu_count() or 1) + 1}"))
    assert "slower, not faster" in caplog.text


def test_the_progress_bar_is_tqdm_every_ten_batches_and_follows_the_trainer_switch(compose_train):
    # Lightning would pick Rich's bar, redrawn every batch, wherever `rich` is installed (3.7% of an epoch).
    bar = instantiate(compose_train().callbacks.progress_bar)
    assert type(bar) is TQDMProgressBar and bar.refresh_rate == 10
    # Off: the configured bar is left out, not refused by Lightning as a bar in a trainer without one.
    metrics = train(compose_train("trainer.enable_progress_bar=false", "trainer.max_epochs=1"))
    assert math.isfinite(metrics["train/ppl"])

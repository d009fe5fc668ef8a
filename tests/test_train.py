import math
import os

import pytest
import torch
from helpers import LYRICS, compose_config, events
from hydra.utils import instantiate
from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import OmegaConf

from lyrics_rnn.checkpoint import load_model, read_checkpoint
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import run as evaluate
from lyrics_rnn.generate import run as generate
from lyrics_rnn.hparams import run_params
from lyrics_rnn.models import NETWORKS
from lyrics_rnn.module import CharLM
from lyrics_rnn.train import check_settings, check_validation_interval, train


@pytest.mark.parametrize("sampler", ["random", "consecutive"])
@pytest.mark.parametrize("model", list(NETWORKS))
def test_every_model_and_sampler_trains(compose_train, tmp_path, model, sampler):
    """4 epochs take every model below 0.8 of the uniform guess over the tiny corpus's 24 characters on
    its held-out part (untrained, each scores about 24; the slowest, nn.RNN at Adam's 1e-3, about 18)."""
    cfg = compose_train(f"model={model}", f"sampler={sampler}", "trainer.max_epochs=4")
    metrics = train(cfg)
    assert {"train/loss", "train/ppl", "val/loss", "val/ppl", "train/grad_norm"} <= metrics.keys()
    assert math.isclose(metrics["train/ppl"], math.exp(metrics["train/loss"]), rel_tol=1e-5)
    assert metrics["val/ppl"] < 0.8 * len(set(LYRICS.replace("\n", " ")))
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
        (["data.split=[0.5,0.6,0]"], r"data.split=\[0.5, 0.6, 0.0\] must be three shares"),
        (["sampler.num_steps=0"], "must both be at least 1"),
        (["sampler.batch_size=64"], "too short for one batch of batch_size=64"),
        (["data.val_batch_size=100"], "val part .* too short for 100 streams"),
    ],
)
def test_bad_values_are_refused_before_training(compose_train, tmp_path, overrides, message):
    with pytest.raises(Exception, match=message):
        train(compose_train(*overrides))
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("model", ["scratch", "lstm", "mingru", "transformer"])
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
@pytest.mark.parametrize("model", list(NETWORKS))
def test_every_model_trains_in_full_double_and_bfloat16_precision(compose_train, model, precision):
    """A zero state takes the weights' dtype (state None), so no model mixes float32 into 64 or bf16."""
    metrics = train(compose_train(f"model={model}", f"trainer.precision={precision}", "trainer.max_epochs=1"))
    assert math.isfinite(metrics["train/ppl"]) and math.isfinite(metrics["val/ppl"])


@pytest.mark.parametrize("model", [["model=scratch"], ["model=transformer", "model.dropout=0"]])
def test_a_compiled_network_trains_to_the_eager_losses(compose_train, tmp_path, model):
    """model.compile=true (torch.compile of the network, default callbacks on): the same losses as eager
    (without dropout, whose masks compiled code draws from another generator)."""
    eager = train(compose_train(*model, "trainer.max_epochs=2"))
    compiled = train(
        compose_train(*model, "trainer.max_epochs=2", "model.compile=true", out=tmp_path / "compiled")
    )
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


def test_early_stopping_ends_a_run_whose_val_ppl_rises(compose_train, tmp_path):
    """Adam at lr 1 without clipping makes val/ppl rise; with patience 1 the run stops long before 20."""
    train(
        compose_train(
            "model=lstm",
            "model.optimizer.lr=1.0",
            "trainer.gradient_clip_val=null",
            "trainer.max_epochs=20",
            "+callbacks.early_stopping._target_=lightning.pytorch.callbacks.EarlyStopping",
            "+callbacks.early_stopping.monitor=val/ppl",
            "+callbacks.early_stopping.patience=1",
        )
    )
    val = [e.value for e in events(tmp_path / "run").Scalars("val/ppl")]
    assert len(val) < 20 and val[-1] > min(val)  # stopped after val/ppl went up


def test_an_ensemble_trains_resumes_evaluates_and_writes_from_one_checkpoint(compose_train, tmp_path):
    """Default callbacks (samples included); the logged test/ppl is what evaluate.py prints."""
    overrides = ("model=lstm", "model.embedding_dim=8", "model.ensemble=2", "data.split=[0.6,0.2,0.2]")
    metrics = train(compose_train(*overrides, "trainer.max_epochs=1"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert len(load_model(last).net.members) == 2
    resumed = train(
        compose_train(*overrides, "trainer.max_epochs=2", f"ckpt_path={last}", out=tmp_path / "again")
    )
    assert resumed["train/ppl"] < metrics["train/ppl"]
    (best,) = (tmp_path / "again" / "checkpoints").glob("epoch*.ckpt")
    num_steps = f"num_steps={compose_train().sampler.num_steps}"
    assert evaluate(
        compose_config("evaluate", f"ckpt_path={best}", "split=test", num_steps)
    ) == pytest.approx(resumed["test/ppl"], rel=1e-4)
    (written,) = generate(compose_config("generate", f"ckpt_path={best}", 'prefixes=["分开"]', "num_chars=5"))
    assert len(written) == 5


def test_a_validation_interval_across_epochs_is_allowed():
    """val_check_interval above an epoch's batches is Lightning's error only when it counts per epoch."""
    across = OmegaConf.create({"val_check_interval": 1000, "check_val_every_n_epoch": None})
    check_validation_interval(across, batches=8)
    with pytest.raises(LyricsError, match="at most 8"):
        check_validation_interval(OmegaConf.merge(across, {"check_val_every_n_epoch": 1}), batches=8)
    check_validation_interval(OmegaConf.create({"val_check_interval": 0.5, "check_val_every_n_epoch": 1}), 8)


@pytest.mark.parametrize("model", ["mingru", "minlstm", "transformer"])
def test_a_block_network_ensemble_trains_adapts_and_writes(compose_train, tmp_path, model):
    """The new families behind the same contract: an ensemble of two in one checkpoint, its test/ppl
    reproduced by evaluate.py, every adaptation, lyrics from the file, the HParams row from its Config."""
    overrides = (f"model={model}", "model.embedding_dim=16", "model.ensemble=2", "data.split=[0.6,0.2,0.2]")
    cfg = compose_train(*overrides)
    metrics = train(cfg)
    (best,) = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    num_steps = f"num_steps={cfg.sampler.num_steps}"
    static = evaluate(compose_config("evaluate", f"ckpt_path={best}", "split=test", num_steps))
    assert static == pytest.approx(metrics["test/ppl"], rel=1e-4)
    for adapt in ("ngram", "cache", "dynamic", "best"):
        assert (
            evaluate(
                compose_config("evaluate", f"ckpt_path={best}", "split=test", f"adapt={adapt}", num_steps)
            )
            > 1
        )
    (written,) = generate(compose_config("generate", f"ckpt_path={best}", 'prefixes=["分开"]', "num_chars=5"))
    assert len(written) == 5
    params = run_params(cfg)
    assert params["model"] == model and params["embedding_dim"] == 16 and params["ensemble"] == 2
    assert ("memory" in params) == (model == "transformer") and "weight_dropout" not in params


def test_a_batch_limit_of_one_trains_one_batch_an_epoch(compose_train, tmp_path):
    train(compose_train("trainer.limit_train_batches=1", "trainer.max_epochs=2"))
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 2

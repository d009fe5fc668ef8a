"""scripts/evaluate.py's run, in-process: the logged test/ppl reproduced, adaptation, ensembles of
checkpoints, any text."""

import numpy as np
import pytest
import torch
from helpers import LYRICS, compose_config, tiny_overrides

from lyrics_rnn.adapt import target_probs
from lyrics_rnn.checkpoint import load_model, training_parts
from lyrics_rnn.context_cache import fit_weights, perplexity
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import run
from lyrics_rnn.train import train


def evaluate(*overrides: str) -> float:
    return run(compose_config("evaluate", *overrides))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny LSTMs (seeds 0 and 1) with a test part, their metrics and their folders."""
    tmp = tmp_path_factory.mktemp("trained")
    (corpus := tmp / "tiny.txt").write_text(LYRICS, encoding="utf-8")
    runs = {}
    for seed in (0, 1):
        cfg = compose_config(
            "train", *tiny_overrides(corpus, tmp / f"run{seed}"), "model=lstm", "model.embedding_dim=8",
            "data.split=[0.6,0.2,0.2]", f"seed={seed}",
        )  # fmt: skip
        runs[seed] = (train(cfg), tmp / f"run{seed}" / "checkpoints")
    return runs


def test_the_logged_test_ppl_is_what_evaluate_prints_and_adaptation_runs(trained, capsys):
    metrics, checkpoints = trained[0]
    (best,) = checkpoints.glob("epoch*.ckpt")
    assert evaluate(f"ckpt_path={best}", "split=test", "num_steps=5") == pytest.approx(
        metrics["test/ppl"], rel=1e-4
    )
    assert capsys.readouterr().out.splitlines()[-1].startswith("test perplexity ")
    adapted = evaluate(f"ckpt_path={best}", "split=test", "adapt=best", "num_steps=5")
    assert "adapt=best: " in capsys.readouterr().out
    assert adapted < metrics["test/ppl"]  # the tiny corpus repeats itself: the cache must help


def test_the_test_ppl_of_weight_averaging_is_what_validation_chose(compose_train, tmp_path):
    ema = "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging"
    cfg = compose_train(
        "model=gru", "model.embedding_dim=8", "data.split=[0.6,0.2,0.2]", ema, "+callbacks.ema.decay=0.5"
    )
    metrics = train(cfg)
    assert {"test/ppl", "test/loss"} <= metrics.keys()
    (best,) = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    model, parts = load_model(best), training_parts(best)
    ids = torch.from_numpy(parts["test"].astype(np.int64))
    reproduced = perplexity(target_probs(model.net, ids, 1, cfg.sampler.num_steps))
    assert reproduced == pytest.approx(metrics["test/ppl"], rel=1e-4)


def test_checkpoints_are_scored_as_an_ensemble_of_their_average(trained, tmp_path, capsys):
    paths = [trained[seed][1] / "last.ckpt" for seed in (0, 1)]
    models = [load_model(path) for path in paths]
    ids = torch.from_numpy(training_parts(paths[0])["test"].astype(np.int64))
    expected = perplexity(np.mean([target_probs(m.net, ids, 1, 5) for m in models], axis=0))
    pattern = str(paths[0]).replace("run0", "run*")
    for spec in (f"ckpt_path=[{paths[0]},{paths[1]}]", f"ckpt_path={pattern}"):
        assert evaluate(spec, "split=test", "num_steps=5") == pytest.approx(expected, rel=1e-6)
        assert "an ensemble of 2 checkpoints" in capsys.readouterr().out
    # Another split is other data.
    checkpoint = torch.load(paths[1], weights_only=True)
    corpus = {**checkpoint["hyper_parameters"]["corpus"], "split": [0.5, 0.3, 0.2]}
    torch.save(
        {**checkpoint, "hyper_parameters": {**checkpoint["hyper_parameters"], "corpus": corpus}},
        other := tmp_path / "other.ckpt",
    )
    with pytest.raises(LyricsError, match="trained on different data"):
        evaluate(f"ckpt_path=[{paths[0]},{other}]", "split=test")


def test_fitted_ensemble_weights_are_the_mixture_that_fits_validation_best(trained, capsys):
    paths = [trained[seed][1] / "last.ckpt" for seed in (0, 1)]
    nets = [load_model(path).net for path in paths]
    parts = {name: torch.from_numpy(ids.astype(np.int64)) for name, ids in training_parts(paths[0]).items()}
    probs = {
        name: np.column_stack([target_probs(n, parts[name], 1, 5) for n in nets]) for name in ("val", "test")
    }
    weights = fit_weights(probs["val"])
    spec = f"ckpt_path=[{paths[0]},{paths[1]}]"
    fitted = {
        split: evaluate(spec, f"split={split}", "num_steps=5", "ensemble_weights=fitted") for split in probs
    }
    assert "probabilities weighted " in capsys.readouterr().out
    for split, ppl in fitted.items():
        assert ppl == pytest.approx(perplexity(probs[split] @ weights), rel=1e-5)
    assert fitted["val"] <= evaluate(spec, "split=val", "num_steps=5") * (1 + 1e-6)  # EM starts from equal
    with pytest.raises(LyricsError, match="ensemble_weights='median' is not known"):
        evaluate(spec, "ensemble_weights=median")


def test_any_text_is_scored_as_validation_scores_its_part(trained, tmp_path, capsys):
    metrics, checkpoints = trained[0]
    last = checkpoints / "last.ckpt"
    model = load_model(last)
    tail = tmp_path / "tail.txt"
    tail.write_text(model.vocab.decode(training_parts(last)["val"].tolist()), encoding="utf-8")
    assert evaluate(f"ckpt_path={last}", f"data.path={tail}", "num_steps=5") == pytest.approx(
        metrics["val/ppl"], rel=1e-3
    )
    foreign = tmp_path / "foreign.txt"
    foreign.write_text("分开" + "完全陌生" * 20, encoding="utf-8")
    with pytest.raises(LyricsError, match="not in the vocabulary: '全完生陌'"):  # no <unk> to read them as
        evaluate(f"ckpt_path={last}", f"data.path={foreign}")


def test_characters_outside_a_vocabulary_with_unk_are_noted(compose_train, tmp_path, capsys):
    train(compose_train("model=gru", "data.split=[0.6,0.2,0.2]", "data.min_freq=7"))  # rare ones -> <unk>
    foreign = tmp_path / "foreign.txt"
    foreign.write_text("分开" + "完全陌生" * 20, encoding="utf-8")
    evaluate(f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", f"data.path={foreign}")
    assert "4 characters outside the vocabulary count as <unk>: 全完生陌" in capsys.readouterr().err

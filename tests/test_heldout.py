"""Held-out evaluation: the split, the training-only vocabulary with <unk>, test/ppl, the n-gram
baseline, the cache, and the model levers (embedding, tied weights, locked dropout, early stopping)."""

import math
import random

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import compose_config, events, run_script
from hydra.utils import instantiate

from lyrics_rnn import datamodule as datamodule_module
from lyrics_rnn.cache import context_cache, fit_weights, longest_match, perplexity
from lyrics_rnn.checkpoint import load_model, training_parts
from lyrics_rnn.corpus import UNK
from lyrics_rnn.datamodule import split_text
from lyrics_rnn.evaluate import target_probs
from lyrics_rnn.models import build_network
from lyrics_rnn.models.recurrent import LockedDropout
from lyrics_rnn.ngram import KneserNey, discounts
from lyrics_rnn.prepare import prepare
from lyrics_rnn.samplers import IGNORE
from lyrics_rnn.train import train


def test_split_parts_are_contiguous_disjoint_and_cover_the_text():
    text = "".join(chr(0x4E00 + i % 500) for i in range(1003))
    parts = split_text(text, [0.8, 0.1, 0.1])
    assert parts["train"] + parts["val"] + parts["test"] == text
    assert [len(p) for p in parts.values()] == [803, 100, 100]
    with pytest.raises(ValueError, match="three shares"):
        split_text(text, [0.8, 0.3, 0.1])


def test_vocabulary_comes_from_the_training_part_and_maps_the_rest_to_unk(tmp_path):
    (corpus := tmp_path / "c.txt").write_text("我我我你你他我她你它", encoding="utf-8")
    vocab, ids = prepare(corpus, split=[0.6, 0.2, 0.2], min_freq=2)
    assert vocab.idx_to_char == [UNK, "你", "我"]  # 他 seen once, 她 and 它 never
    assert ids["train"].tolist() == [2, 2, 2, 1, 1, 0] and ids["val"].tolist() == [2, 0]
    assert ids["test"].tolist() == [1, 0]
    (corpus := tmp_path / "d.txt").write_text("我你", encoding="utf-8")
    no_unk, _ = prepare(corpus, split=[1, 0, 0])
    assert no_unk.unk is None and no_unk.idx_to_char == ["你", "我"]
    with pytest.raises(ValueError, match="not in the vocabulary: '她'"):
        no_unk.encode("我她")


def test_heldout_config_is_the_fixed_evaluation():
    data = compose_config("train", "data=jaychou_heldout", "paths.output_dir=unused").data
    assert data.num_sample is None and list(data.split) == [0.8, 0.1, 0.1] and data.min_freq == 2


def test_kneser_ney_sums_to_one_for_random_contexts():
    ids = [random.Random(0).randrange(6) for _ in range(400)] + list(range(7))
    model = KneserNey(ids, vocab_size=8, order=4)  # id 7 never occurs in training
    rng = random.Random(1)
    for _ in range(20):
        context = [rng.randrange(8) for _ in range(rng.randrange(5))]
        assert sum(model.prob(w, context) for w in range(8)) == pytest.approx(1, abs=1e-9)
    assert model.prob(7, [1, 2, 3]) > 0


def test_order_one_is_the_discounted_unigram():
    ids = [0] * 5 + [1] * 3 + [2] * 2 + [3]
    model = KneserNey(ids, vocab_size=5, order=1)
    d = discounts([5, 3, 2, 1])
    freed = d[2] + d[2] + d[1] + d[0]  # counts 5, 3 (D3+), 2 (D2), 1 (D1)
    for w, count in enumerate([5, 3, 2, 1, 0]):
        discounted = max(count - d[min(count, 3) - 1], 0) if count else 0
        assert model.prob(w, [4, 4]) == pytest.approx(discounted / 11 + freed / 11 / 5)


def test_cache_never_sees_a_character_before_it_is_scored():
    ids = [1, 2, 3, 1, 2, 3, 1, 2, 4]
    probs, lengths = context_cache(ids)
    assert not probs[0].any() and lengths[0] == 0  # nothing seen yet
    assert lengths[4] == 2 and probs[4, 2] == 1.0  # "1 2" was followed by 3 once before
    assert probs[4, 0] == pytest.approx(1 / 4)  # order 0: 3 is one of the 4 characters scored so far
    assert longest_match(probs, lengths)[4] == 1.0 and longest_match(probs, lengths)[0] == 0
    assert lengths[7] == 5 and probs[7, 5] == 0  # "1 2 3 1 2" was followed by 3, not by the 4 scored
    changed, _ = context_cache([*ids[:7], 9, 9])  # the future differs: the past's scores do not
    assert np.array_equal(changed[:6], probs[:6])


@pytest.mark.parametrize("half_life", [math.inf, 10.0, 1.0])
def test_recent_cache_weighs_each_earlier_occurrence_by_its_age(half_life: float) -> None:
    """Against the definition, summed directly: an occurrence i - j characters ago weighs
    2 ** (-(i - j) / half_life). At a half-life of 1, 400 characters cross the rescaling, and a context
    seen again 1,500 characters later would overflow a weight computed without it."""
    ids = np.random.default_rng(0).integers(0, 3, size=400).tolist() + [4] * 1500 + [1, 2, 1, 2]
    probs, lengths = context_cache(ids, max_order=3, half_life=half_life)
    for i in [*range(0, 400, 7), *range(len(ids) - 5, len(ids) - 1)]:
        for k in range(4):
            context = ids[i - k + 1 : i + 1] if k else []
            earlier = [j for j in range(max(k - 1, 0), i) if ids[j - k + 1 : j + 1] == context]
            # Relative to the latest occurrence (the same ratios), so that they do not all underflow.
            weights = {j: 2 ** (-(max(earlier) - j) / half_life) for j in earlier}
            total = sum(weights.values())
            hit = sum(w for j, w in weights.items() if ids[j + 1] == ids[i + 1])
            assert probs[i, k] == pytest.approx(hit / total if total else 0.0, rel=1e-9)
    assert lengths[-1] == 3


def test_mixture_weights_favour_the_better_component():
    probs = np.array([[0.5, 0.1], [0.4, 0.2], [0.6, 0.05]])
    weights = fit_weights(probs)
    assert weights[0] > 0.9 and weights.sum() == pytest.approx(1)


def test_tied_weights_share_storage_and_a_projection_bridges_sizes():
    net = build_network("lstm", 30, 16, embedding_dim=16, tie_weights=True)
    assert net.dense.weight.data_ptr() == net.embedding.weight.data_ptr()
    wide = build_network("lstm", 30, 32, embedding_dim=8, tie_weights=True)
    assert wide.dense.weight is wide.embedding.weight and wide.project.out_features == 8
    logits, _ = wide(torch.zeros(2, 5, dtype=torch.long), None)
    assert logits.shape == (2, 5, 30)
    with pytest.raises(ValueError, match="needs an input embedding"):
        build_network("lstm", 30, 16, tie_weights=True)


def test_locked_dropout_uses_one_mask_per_sequence():
    dropout = LockedDropout(0.5).train()
    out = dropout(torch.ones(4, 7, 10))
    zeros = out == 0
    assert zeros.any() and (zeros == zeros[:, :1]).all()  # the same features dropped at every step
    assert torch.equal(dropout.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_every_target_is_scored_once_whatever_the_streams():
    net = build_network("gru", 5, 8)
    ids = torch.tensor([random.Random(2).randrange(5) for _ in range(53)])
    one = target_probs(net, ids, num_streams=1, num_steps=4)
    three = target_probs(net, ids, num_streams=3, num_steps=7)
    assert len(one) == len(three) == 52
    assert one[0] == pytest.approx(three[0], rel=1e-5)  # both start from a zero state


def test_test_ppl_is_logged_and_evaluate_reproduces_it(compose_train, tmp_path):
    """With weight averaging too: what validation chose is what the test part scores."""
    ema = "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging"
    cfg = compose_train(
        "model=gru", "model.embedding_dim=8", "data.split=[0.6,0.2,0.2]", ema, "+callbacks.ema.decay=0.5"
    )
    metrics = train(cfg)
    assert {"test/ppl", "test/loss"} <= metrics.keys()
    (best,) = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    model, parts = load_model(best), training_parts(best)
    ids = torch.from_numpy(model.vocab.encode(parts["test"]))
    reproduced = perplexity(target_probs(model.net, ids, 1, cfg.sampler.num_steps))
    assert reproduced == pytest.approx(metrics["test/ppl"], rel=1e-4)


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


@pytest.mark.slow
def test_two_epochs_of_the_heldout_recipe_beat_the_unigram(tmp_path, real_corpus):
    """A short real check on the real corpus: the held-out recipe after two epochs, against the
    Kneser-Ney unigram on the same validation part."""
    out = [f"paths.log_dir={tmp_path}", f"paths.output_dir={tmp_path}"]
    cfg = compose_config(
        "train", "experiment=heldout_best", f"data.path={real_corpus}", "trainer.max_epochs=2", *out
    )
    metrics = train(cfg)
    data = cfg.data
    vocab, ids = prepare(data.path, data.member, data.num_sample, data.split, data.min_freq)
    unigram = KneserNey(ids["train"].tolist(), len(vocab), order=1)
    assert metrics["val/ppl"] < perplexity(np.array(unigram.target_probs(ids["val"].tolist())))


def test_ngram_script_prints_static_and_cached_test_perplexity(tiny_corpus, tmp_path):
    data = [f"data.path={tiny_corpus}", "data.url=null", "data.split=[0.6,0.2,0.2]", "order=3"]
    result = run_script("ngram.py", *data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines()[1:])
    assert {"val perplexity", "test perplexity", "test perplexity with cache"} <= lines.keys()
    # the tiny corpus repeats itself: the cache of already scored text must help
    assert float(lines["test perplexity with cache"]) < float(lines["test perplexity"])


def test_evaluate_script_scores_the_test_part_as_training_did_and_adapts(compose_train, tmp_path):
    metrics = train(compose_train("model=lstm", "model.embedding_dim=8", "data.split=[0.6,0.2,0.2]"))
    (best,) = (tmp_path / "run" / "checkpoints").glob("epoch*.ckpt")
    static = run_script("evaluate.py", f"ckpt_path={best}", "split=test", "num_steps=5", cwd=tmp_path)
    assert static.returncode == 0, static.stderr
    assert float(static.stdout.splitlines()[-1].split()[-1]) == pytest.approx(metrics["test/ppl"], rel=1e-4)
    adapted = run_script(
        "evaluate.py", f"ckpt_path={best}", "split=test", "adapt=best", "num_steps=5", cwd=tmp_path
    )
    assert adapted.returncode == 0, adapted.stderr
    assert "adapt=best: " in adapted.stdout and adapted.stdout.splitlines()[-1].startswith("test perplexity ")


def test_a_prefix_with_unseen_characters_generates_with_a_note(compose_train, tmp_path):
    train(compose_train("model=gru", "data.split=[0.6,0.2,0.2]", "data.min_freq=7"))  # rare ones -> <unk>
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    result = run_script(
        "generate.py", f"ckpt_path={ckpt}", 'prefixes=["周杰伦分开"]', "num_chars=5", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert text.startswith("周杰伦分开") and len(text) == 10 and "<unk>" not in text
    assert "read as <unk>" in result.stderr and "周" in result.stderr


def test_auto_val_batch_size_keeps_validation_a_tenth_of_an_epoch(compose_train):
    datamodule = instantiate(compose_train("data.val_batch_size=auto", "data.split=[0.5,0.5,0]").data)
    datamodule.setup()
    val, train = list(datamodule.val_dataloader()), datamodule.train_dataloader()
    assert len(val) <= max(1, math.ceil(len(train) / 10))
    assert sum(int((targets != IGNORE).sum()) for _, targets, _ in val) == len(datamodule.ids["val"]) - 1


def test_heldout_batches_run_as_long_as_memory_allows_and_score_alike(compose_train, monkeypatch):
    cfg = compose_train("sampler.num_steps=5")

    def validate() -> tuple[int, float]:
        datamodule = instantiate(cfg.data)
        datamodule.setup()
        torch.manual_seed(0)
        model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char)
        trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        [metrics] = trainer.validate(model, datamodule, verbose=False)
        return len(datamodule.val_dataloader()), metrics["val/loss"]

    long_batches, long_loss = validate()
    monkeypatch.setattr(datamodule_module, "HELDOUT_LOGITS", 0)  # batches of sampler.num_steps
    short_batches, short_loss = validate()
    assert long_batches == 1 < short_batches
    assert long_loss == pytest.approx(short_loss, rel=1e-6)


def test_evaluate_averages_an_ensemble_of_checkpoints(compose_train, tmp_path):
    for seed in (0, 1):
        train(
            compose_train(
                "model=lstm", "data.split=[0.6,0.2,0.2]", f"seed={seed}", out=tmp_path / f"run{seed}"
            )
        )
    paths = [tmp_path / f"run{seed}" / "checkpoints" / "last.ckpt" for seed in (0, 1)]
    models = [load_model(path) for path in paths]
    ids = torch.from_numpy(models[0].vocab.encode(training_parts(paths[0])["test"]))
    expected = perplexity(np.mean([target_probs(m.net, ids, 1, 5) for m in models], axis=0))
    for spec in (f"ckpt_path=[{paths[0]},{paths[1]}]", f"ckpt_path={tmp_path}/run*/checkpoints/last.ckpt"):
        result = run_script("evaluate.py", spec, "split=test", "num_steps=5", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "an ensemble of 2 checkpoints" in result.stdout
        assert float(result.stdout.splitlines()[-1].split()[-1]) == pytest.approx(expected, rel=1e-6)
    # How far into its epoch a checkpoint was saved is progress, not data; another split is other data.
    checkpoint = torch.load(paths[1], weights_only=True)
    for name, change in (("mid", {"batches_done": 3}), ("other", {"split": [0.5, 0.3, 0.2]})):
        torch.save(
            {**checkpoint, "LyricsDataModule": {**checkpoint["LyricsDataModule"], **change}}, tmp_path / name
        )
    mid = run_script(
        "evaluate.py", f"ckpt_path=[{paths[0]},{tmp_path / 'mid'}]", "split=test", "num_steps=5", cwd=tmp_path
    )
    assert float(mid.stdout.splitlines()[-1].split()[-1]) == pytest.approx(expected, rel=1e-6), mid.stderr
    other = run_script(
        "evaluate.py", f"ckpt_path=[{paths[0]},{tmp_path / 'other'}]", "split=test", cwd=tmp_path
    )
    assert other.returncode == 2 and "trained on different data" in other.stderr


def test_token_dropout_drops_whole_characters_for_the_batch():
    torch.manual_seed(0)
    net = build_network("lstm", 40, 8, embedding_dim=6, token_dropout=0.5)
    seen = []
    net.rnn.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    inputs = torch.arange(40).repeat(2)[None]  # every character twice
    with torch.no_grad():
        net(inputs, None)
    first, second = seen[0][0].split(40)
    assert torch.equal(first, second)  # a character is dropped everywhere in the batch, or nowhere
    scale = (first.norm(dim=1) / net.embedding.weight.detach().norm(dim=1)).round(decimals=4)
    assert set(scale.tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    net.eval()
    torch.testing.assert_close(net.embedding(inputs), net.embedding.weight[inputs])


def test_ensemble_members_learn_alone_and_are_scored_as_their_average_probability():
    torch.manual_seed(0)
    ensemble = build_network("gru", 12, 6, ensemble=3)
    members = list(ensemble.members)
    assert len({m.dense.weight.data_ptr() for m in members}) == 3  # its own initial weights each
    inputs, targets = torch.randint(0, 12, (2, 5)), torch.randint(0, 12, (2, 5))
    logits, state = ensemble(inputs, None)
    assert logits.shape == (6, 5, 12) and len(state) == 3
    # The module's training loss (members stacked along the batch) is the mean of the members' losses:
    # member 0's gradient is its own loss's, divided by three, whatever the others do.
    F.cross_entropy(logits.flatten(0, 1), targets.repeat(3, 1).flatten()).backward()
    alone = build_network("gru", 12, 6)
    alone.load_state_dict(members[0].state_dict())
    alone_logits, _ = alone(inputs, None)
    F.cross_entropy(alone_logits.flatten(0, 1), targets.flatten()).backward()
    for mine, its in zip(members[0].parameters(), alone.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, its.grad / 3)
    ensemble.eval()
    log_probs, _ = ensemble(inputs, None)
    average = torch.stack([m(inputs, None)[0].softmax(-1) for m in members]).mean(0)
    torch.testing.assert_close(log_probs.exp(), average)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 5))


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
    result = run_script(
        "evaluate.py",
        f"ckpt_path={best}",
        "split=test",
        f"num_steps={compose_train().sampler.num_steps}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.splitlines()[-1].split()[-1]) == pytest.approx(resumed["test/ppl"], rel=1e-4)
    written = run_script("generate.py", f"ckpt_path={best}", "num_chars=5", cwd=tmp_path)
    assert written.returncode == 0, written.stderr

"""A real learning check on the real corpus with the book's settings (a quality check, not a timing)."""

import numpy as np
import pytest
from helpers import compose_config

from lyrics_rnn.context_cache import perplexity
from lyrics_rnn.kneser_ney import KneserNey
from lyrics_rnn.prepare import Corpus
from lyrics_rnn.train import train


@pytest.mark.slow
def test_scratch_rnn_learns_the_lyrics_like_the_book(compose_train, real_corpus):
    """Book: scratch RNN, random sampling, SGD lr 100, clipping 0.01 -> perplexity 70.0 at epoch 50."""
    cfg = compose_train(
        f"data.path={real_corpus}",
        "data.num_sample=10000",
        "data.split=[1,0,0]",
        "optimized_metric=train/ppl",
        "model=scratch",
        "model.num_hiddens=256",
        "sampler=random",
        "sampler.batch_size=32",
        "sampler.num_steps=35",
        "trainer.max_epochs=50",
        "callbacks.lyrics_samples.pred_period=50",
    )
    metrics = train(cfg)
    assert metrics["train/ppl"] < 100


@pytest.mark.slow
def test_two_epochs_of_the_heldout_recipe_beat_the_unigram(tmp_path, real_corpus):
    """A short real check on the real corpus: the held-out recipe (two of its eight networks) after two
    epochs, against the Kneser-Ney unigram on the same validation part."""
    out = [f"paths.log_dir={tmp_path}", f"paths.output_dir={tmp_path}"]
    cfg = compose_config(
        "train",
        "experiment=heldout_best",
        f"data.path={real_corpus}",
        "trainer.max_epochs=2",
        "model.ensemble=2",
        *out,
    )
    metrics = train(cfg)
    data = cfg.data
    vocab, ids = Corpus(data.path, data.member, data.num_sample, data.split, data.min_freq).prepare()
    unigram = KneserNey(ids["train"].tolist(), len(vocab), order=1)
    assert metrics["val/ppl"] < perplexity(np.array(unigram.target_probs(ids["val"].tolist())))

"""A real learning check on the real corpus with the book's settings (a quality check, not a timing)."""

import pytest

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

"""scripts/ngram.py's run: the Kneser-Ney baseline, static and cached, on the training split."""

from helpers import compose_config

from lyrics_rnn.ngram import run


def test_ngram_prints_static_and_cached_test_perplexity(tiny_corpus, capsys):
    data = [f"data.path={tiny_corpus}", "data.url=null", "data.split=[0.6,0.2,0.2]", "order=3"]
    results = run(compose_config("ngram", *data, resolve=False))  # the data config names a sampler it has not
    lines = dict(line.rsplit(" ", 1) for line in capsys.readouterr().out.splitlines()[1:])
    assert {name: f"{value:.4f}" for name, value in results.items()} == lines
    assert {"val perplexity", "test perplexity", "test perplexity with cache"} <= lines.keys()
    # the tiny corpus repeats itself: the cache of already scored text must help
    assert results["test perplexity with cache"] < results["test perplexity"]

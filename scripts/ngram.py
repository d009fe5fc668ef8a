"""The classical baseline: `python scripts/ngram.py data=jaychou_heldout [order=6]` prints the validation
and test perplexities of an interpolated Kneser-Ney character n-gram, static and with a cache."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.corpus import ensure_corpus
from lyrics_rnn.datamodule import encode_parts, read_parts
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.evaluate import baselines, fitted_perplexities
from lyrics_rnn.ngram import KneserNey


@hydra_entry("ngram")
def main(cfg: DictConfig) -> dict[str, float]:
    data = cfg.data
    path = ensure_corpus(data.path, data.url, data.sha256)
    parts = read_parts(path, data.member, data.num_sample, data.split)
    if not parts["val"] or not parts["test"]:
        raise LyricsError(
            f"data.split={list(data.split)} needs validation and test parts, e.g. data=jaychou_heldout."
        )
    vocab, ids = encode_parts(parts, data.min_freq)
    model = KneserNey(ids["train"].tolist(), len(vocab), cfg.order)
    val, test = (baselines(model, ids[name], cfg.cache_order) for name in ("val", "test"))
    results = {}
    for recipe, label in (("ngram", ""), ("ngram+cache", " with cache")):  # cache weights chosen on val
        val_ppl, test_ppl = fitted_perplexities(recipe, val, test)
        results[f"val perplexity{label}"], results[f"test perplexity{label}"] = val_ppl, test_ppl
    print(f"Kneser-Ney {cfg.order}-gram, {len(ids['train'])} training characters, vocabulary of {len(vocab)}")
    for name, ppl in results.items():
        print(f"{name} {ppl:.4f}")
    return results


if __name__ == "__main__":
    main()

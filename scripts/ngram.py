"""The classical baseline: `python scripts/ngram.py data=jaychou_heldout [order=6]` prints the validation
and test perplexities of an interpolated Kneser-Ney character n-gram: static; with the cache of the text
already scored (its longest matching context predicts); with that cache at every context length, of
the whole text so far and of its recent past."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.ngram import run


@hydra_entry("ngram")
def main(cfg: DictConfig) -> dict[str, float]:
    return run(cfg)


if __name__ == "__main__":
    main()

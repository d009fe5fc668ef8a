"""Train a character-level RNN: `python scripts/train.py model=scratch sampler=random` (see conf/)."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.train import train


@hydra_entry("train")
def main(cfg: DictConfig) -> float:
    """Returns the optimized metric, so Hydra sweepers can minimise it."""

    return train(cfg)[cfg.optimized_metric]


if __name__ == "__main__":
    main()

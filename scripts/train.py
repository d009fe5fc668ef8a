"""Train a character-level RNN: `python scripts/train.py model=scratch sampler=random` (see conf/)."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.train import train


@hydra_entry("train")
def main(cfg: DictConfig) -> float:
    """Returns the optimized metric, so Hydra sweepers can minimise it (NaN if the run ended before it
    was logged, e.g. trainer.max_steps inside the first epoch)."""
    return train(cfg).get(cfg.optimized_metric, float("nan"))


if __name__ == "__main__":
    main()

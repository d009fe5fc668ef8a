"""Train a character-level RNN: `python scripts/train.py model=scratch sampler=random` (see conf/)."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry


@hydra_entry("train")
def main(cfg: DictConfig) -> float:
    """Returns the optimized metric, so Hydra sweepers can minimise it."""
    from lyrics_rnn.train import train  # Lightning loads in seconds: not before the config is checked

    return train(cfg)[cfg.optimized_metric]


if __name__ == "__main__":
    main()

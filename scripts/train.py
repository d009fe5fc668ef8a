"""Train a character-level RNN: `python scripts/train.py model=scratch sampler=random` (see conf/)."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lyrics_rnn.config import register_configs
from lyrics_rnn.train import train

# Data and outputs live in the repository, whatever the working directory.
os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the optimized metric, so Hydra sweepers can minimise it."""
    return train(cfg)[cfg.optimized_metric]


if __name__ == "__main__":
    main()

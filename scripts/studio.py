"""A web page to write with a model: `python scripts/studio.py ckpt_path=<run>/checkpoints/last.ckpt`."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.studio import run


@hydra_entry("studio")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()

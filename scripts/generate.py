"""Write lyrics from a checkpoint: `python scripts/generate.py ckpt_path=... 'prefixes=["分开","不分开"]'`."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.generate import run


@hydra_entry("generate")
def main(cfg: DictConfig) -> list[str]:
    return run(cfg)


if __name__ == "__main__":
    main()

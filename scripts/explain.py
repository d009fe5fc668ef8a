"""The read and units views of a text as an HTML file: `python scripts/explain.py ckpt_path=... out=view.html`."""

from pathlib import Path

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.explain import run


@hydra_entry("explain")
def main(cfg: DictConfig) -> Path:
    return run(cfg)


if __name__ == "__main__":
    main()

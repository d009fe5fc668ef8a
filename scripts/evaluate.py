"""Perplexity of a checkpoint: `python scripts/evaluate.py ckpt_path=... split=test [adapt=best]`,
or on any text: `python scripts/evaluate.py ckpt_path=... data.path=some.txt`; of an ensemble:
`python scripts/evaluate.py 'ckpt_path=outputs/multirun/<sweep>/*/checkpoints/epoch*.ckpt' split=test`."""

from omegaconf import DictConfig

from lyrics_rnn.cli import hydra_entry
from lyrics_rnn.evaluate import run


@hydra_entry("evaluate")
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()

"""Perplexity of a checkpoint on any text: `python scripts/evaluate.py ckpt_path=... data.path=...`."""

import hydra
from omegaconf import DictConfig

from lyrics_rnn.checkpoint import load_model
from lyrics_rnn.config import register_configs
from lyrics_rnn.corpus import preprocess, read_text
from lyrics_rnn.evaluate import perplexity

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> float:
    model = load_model(cfg.ckpt_path, cfg.device)
    text = preprocess(read_text(cfg.data.path, cfg.data.member), cfg.data.num_sample)
    ppl = perplexity(model, text, cfg.batch_size, cfg.num_steps)
    print(f"perplexity {ppl:.4f} on {len(text)} characters of {cfg.data.path}")
    return ppl


if __name__ == "__main__":
    main()

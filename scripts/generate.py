"""Write lyrics from a checkpoint: `python scripts/generate.py ckpt_path=... prefixes='[分开,不分开]'`."""

import json

import hydra
import torch
from omegaconf import DictConfig

from lyrics_rnn.checkpoint import load_model
from lyrics_rnn.config import register_configs
from lyrics_rnn.generate import generate

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> list[str]:
    if cfg.format not in ("text", "jsonl"):
        raise ValueError(f"format={cfg.format!r} is not known; use format=text or format=jsonl.")
    model = load_model(cfg.ckpt_path, cfg.device)
    generator = torch.Generator(model.device).manual_seed(cfg.seed)
    samples = []
    for prefix in cfg.prefixes:
        for _ in range(cfg.num_samples):
            text = generate(
                model.net, model.vocab, str(prefix), cfg.num_chars, cfg.temperature, cfg.top_k, generator
            )
            record = {"prefix": str(prefix), "text": text}
            print(text if cfg.format == "text" else json.dumps(record, ensure_ascii=False), flush=True)
            samples.append(text)
    return samples


if __name__ == "__main__":
    main()

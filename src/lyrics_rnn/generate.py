"""`run(cfg)` of scripts/generate.py: lyrics from a checkpoint alone, greedy or sampled."""

from __future__ import annotations

import json
import sys

import torch
from omegaconf import DictConfig

from lyrics_rnn.checkpoint import load_model, training_parts
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.sampling import copy_rate, generate


def run(cfg: DictConfig) -> list[str]:
    """Prints every sample as it is written; returns the generated parts (the prefixes left out)."""
    if cfg.format not in ("text", "jsonl"):
        raise LyricsError(f"format={cfg.format!r} is not known; use format=text or format=jsonl.")
    if cfg.num_chars < 0 or cfg.num_samples < 1:
        raise LyricsError(f"num_chars={cfg.num_chars} must be >= 0 and num_samples={cfg.num_samples} >= 1.")
    if not cfg.prefixes:
        raise LyricsError(
            """prefixes=[] gives nothing to continue; give at least one, e.g. 'prefixes=["分开"]' (quoted)."""
        )
    model = load_model(cfg.ckpt_path, cfg.device)
    generator = torch.Generator(model.device).manual_seed(cfg.seed)
    samples = []
    for prefix in map(str, cfg.prefixes):
        unknown = model.vocab.unknown(prefix)
        if unknown and model.vocab.unk is not None:  # without <unk>, generation names them in an error
            print(f"note: {unknown!r} of prefix {prefix!r} read as <unk>", file=sys.stderr)
        for _ in range(cfg.num_samples):
            text = generate(
                model.net, model.vocab, prefix, cfg.num_chars, cfg.temperature, cfg.top_k, generator
            )
            record = {"prefix": prefix, "text": text}
            print(text if cfg.format == "text" else json.dumps(record, ensure_ascii=False), flush=True)
            samples.append(text[len(prefix) :])
    if cfg.copy_rate:
        # <unk> read as one character no sample can hold: the windows align as in the raw text.
        training_text = model.vocab.decode(training_parts(cfg.ckpt_path)["train"].tolist(), unk="\ufffd")
        rate = copy_rate(samples, training_text)
        print(
            f"copy rate {rate:.3f}: share of generated 10-character windows found in the training text",
            file=sys.stderr,
        )
    return samples

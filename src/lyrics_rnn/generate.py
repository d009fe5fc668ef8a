"""`run(cfg)` of scripts/generate.py: lyrics from a checkpoint alone, greedy or sampled."""

from __future__ import annotations

import json
import sys

import torch
from omegaconf import DictConfig

from lyrics_rnn.checkpoint import load_model, training_parts
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.sampling import copy_rate, stream

MAX_CHARS = 100_000  # per sample


def run(cfg: DictConfig) -> list[str]:
    """Prints every sample as it is written; returns the generated parts (the prefixes left out)."""
    if cfg.format not in ("text", "jsonl"):
        raise LyricsError(f"format={cfg.format!r} is not known; use format=text or format=jsonl.")
    if not 0 <= cfg.num_chars <= MAX_CHARS or cfg.num_samples < 1:
        raise LyricsError(
            f"num_chars={cfg.num_chars} must be in 0..{MAX_CHARS:,} (a sample of the limit takes about a "
            f"minute on a CPU) and num_samples={cfg.num_samples} >= 1; for more, ask for more samples."
        )
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
            written = stream(
                model.net, model.vocab, prefix, cfg.num_chars, cfg.temperature, cfg.top_k, generator
            )
            if cfg.format == "text":  # each character as it is drawn, as a terminal user expects
                print(prefix, end="", flush=True)
                text = ""
                for char in written:
                    print(char, end="", flush=True)
                    text += char
                print()
            else:
                text = "".join(written)
                print(json.dumps({"prefix": prefix, "text": prefix + text}, ensure_ascii=False), flush=True)
            samples.append(text)
    if cfg.copy_rate:
        # <unk> read as one character no sample can hold: the windows align as in the raw text.
        training_text = model.vocab.decode(training_parts(cfg.ckpt_path)["train"].tolist(), unk="\ufffd")
        rate = copy_rate(samples, training_text)
        print(
            f"copy rate {rate:.3f}: share of generated 10-character windows found in the training text",
            file=sys.stderr,
        )
    return samples

"""Perplexity of a trained model on any text, read the way validation reads it."""

from __future__ import annotations

import lightning as L
import torch

from lyrics_rnn.datamodule import batch_loader
from lyrics_rnn.module import CharLM
from lyrics_rnn.samplers import ConsecutivePartition


def perplexity(model: CharLM, text: str, batch_size: int = 1, num_steps: int = 35) -> float:
    """exp(token-mean cross-entropy) over `batch_size` consecutive streams, the state carried between batches."""
    ids = torch.tensor(model.vocab.encode(text), dtype=torch.long)
    loader = batch_loader(ids, ConsecutivePartition(len(ids), batch_size, num_steps))
    accelerator = "gpu" if model.device.type == "cuda" else "cpu"
    trainer = L.Trainer(accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False)
    (metrics,) = trainer.validate(model, loader)
    return metrics["val/ppl"]

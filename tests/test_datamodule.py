"""Held-out parts as streams: the number of streams and the batch length change no score."""

import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from lyrics_rnn import datamodule as datamodule_module


def test_auto_val_batch_size_keeps_validation_a_tenth_of_an_epoch(compose_train):
    datamodule = instantiate(compose_train("data.val_batch_size=auto", "data.split=[0.5,0.5,0]").data)
    datamodule.setup()
    val, train = list(datamodule.val_dataloader()), datamodule.train_dataloader()
    assert len(val) <= max(1, math.ceil(len(train) / 10))
    assert sum(int((targets >= 0).sum()) for _, targets, _ in val) == len(datamodule.ids["val"]) - 1


@pytest.mark.parametrize(
    "model", [["model=scratch"], ["model=transformer", "model.embedding_dim=16", "model.memory=3"]]
)
def test_heldout_batches_run_as_long_as_memory_allows_and_score_alike(compose_train, monkeypatch, model):
    """The state carries what a batch boundary cuts: one long batch scores as many short ones (the
    Transformer's characters see the same `memory` characters before them either way)."""
    cfg = compose_train(*model, "sampler.num_steps=5")

    def validate() -> tuple[int, float]:
        datamodule = instantiate(cfg.data)
        datamodule.setup()
        torch.manual_seed(0)
        model = instantiate(cfg.model, vocab=datamodule.vocab.idx_to_char)
        trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        [metrics] = trainer.validate(model, datamodule, verbose=False)
        return len(datamodule.val_dataloader()), metrics["val/loss"]

    long_batches, long_loss = validate()
    monkeypatch.setattr(datamodule_module, "HELDOUT_LOGITS", 0)  # batches of sampler.num_steps
    short_batches, short_loss = validate()
    assert long_batches == 1 < short_batches
    assert long_loss == pytest.approx(short_loss, rel=1e-6)

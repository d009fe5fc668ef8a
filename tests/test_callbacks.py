"""The divergence guard (no checkpoint ever holds a diverged epoch) and exact resume's state."""

import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from lyrics_rnn.callbacks import NEVER, DivergenceGuard, ExactResume
from lyrics_rnn.checkpoint import read_checkpoint
from lyrics_rnn.errors import LyricsError
from lyrics_rnn.module import CharLM
from lyrics_rnn.samplers import RandomSampler
from lyrics_rnn.train import train


def test_divergence_with_a_finite_loss_stops_before_any_checkpoint(compose_train, tmp_path):
    """lr=30 without clipping: the loss explodes (to about 43, finite) in the first epoch."""
    cfg = compose_train("model.optimizer.lr=30", "trainer.gradient_clip_val=null")
    with pytest.raises(LyricsError, match="training diverged: loss above"):
        train(cfg)
    assert not list(tmp_path.rglob("*.ckpt"))


def guard_after(loss: float, norm: float) -> int:
    """The step the guard marks after one batch of this loss and gradient norm (NEVER: none)."""
    model, guard = CharLM(vocab=list("abcdefghij"), cell="rnn", num_hiddens=4), DivergenceGuard()
    trainer = L.Trainer(accumulate_grad_batches=1, logger=False, enable_progress_bar=False)
    guard.setup(trainer, model, "fit")
    model.grad_norm.update(torch.tensor(norm), 1)
    guard.on_train_batch_end(trainer, model, {"loss": torch.tensor(loss)}, None, 0)
    return int(guard.first_bad_step)


def test_an_exploded_finite_loss_marks_its_step():
    max_loss = 10 * math.log(10)
    assert guard_after(max_loss - 1, 1.0) == NEVER
    assert guard_after(max_loss + 1, 1.0) == 0
    assert guard_after(math.nan, 1.0) == 0


@pytest.mark.parametrize("norm", [math.inf, math.nan])
def test_a_non_finite_gradient_norm_marks_its_step(norm: float):
    assert guard_after(1.0, 1e30) == NEVER
    assert guard_after(1.0, norm) == 0


def test_divergence_stops_with_a_clear_message_and_keeps_good_checkpoints(compose_train, tmp_path):
    cfg = compose_train("trainer.max_epochs=3", "+callbacks.poison._target_=test_callbacks.PoisonSecondEpoch")
    with pytest.raises(
        LyricsError, match=r"diverged.*epoch 2, global step \d+ \(lr=100.*gradient_clip_val=0.01"
    ):
        train(cfg)
    last = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["epoch"] == 0
    assert all(torch.isfinite(value).all() for value in last["state_dict"].values())


class PoisonSecondEpoch(L.Callback):
    """Puts a NaN into the weights when the second epoch starts."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = math.nan


def test_a_mid_epoch_checkpoint_of_the_meanmetric_days_restores_its_gradient_norm_sums():
    """grad_norm was torchmetrics' MeanMetric: its sums are saved as mean_value and weight."""
    model = CharLM(vocab=list("abc"), cell="rnn", num_hiddens=4)
    metrics = {"grad_norm": {"mean_value": torch.tensor(9.0), "weight": torch.tensor(3.0)}}
    checkpoint = {
        "epoch_so_far": {"state": None, "metrics": metrics},
        "LyricsDataModule": {"batches_done": 2},
    }
    trainer = SimpleNamespace(datamodule=SimpleNamespace(train_sampler=RandomSampler(100, 2, 5)))
    ExactResume().on_load_checkpoint(trainer, model, checkpoint)
    assert trainer.datamodule.train_sampler.skip == 2  # where earlier versions kept the count
    model.grad_norm.update(torch.tensor(2.0), 1)
    assert float(model.grad_norm.compute()) == 2.75  # (9 + 2) / (3 + 1)


class InfiniteValidation(L.Callback):
    """Makes the first epoch's validation loss infinite (weights and training losses stay finite)."""

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            pl_module.val_loss.total.fill_(math.inf)


def test_a_non_finite_validation_loss_stops_before_any_checkpoint(compose_train, tmp_path):
    with pytest.raises(LyricsError, match="training diverged.*validation loss at epoch 1"):
        train(compose_train("+callbacks.poison._target_=test_callbacks.InfiniteValidation"))
    assert not list(tmp_path.rglob("*.ckpt"))

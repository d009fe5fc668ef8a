import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from lyrics_rnn.datamodule import WindowDataset
from lyrics_rnn.module import CharLM
from lyrics_rnn.samplers import ConsecutiveSampler, RandomSampler, windows

VOCAB = list("abcdefghij")


def batches(partition, ids):
    return [(*windows(ids, starts, partition.num_steps), reset) for starts, reset in partition]


def model(cell="scratch", **kwargs):
    torch.manual_seed(0)
    return CharLM(VOCAB, cell=cell, num_hiddens=8, **kwargs)


@pytest.mark.parametrize("cell", ["scratch", "lstm"])
def test_consecutive_state_is_carried_and_detached(cell):
    ids = torch.randint(0, 10, (200,))
    module = model(cell)
    with torch.no_grad():  # unit-scale weights, so that the carried state visibly changes the loss
        for parameter in module.parameters():
            parameter.normal_()
    first, second = batches(ConsecutiveSampler(200, 4, 5), ids)[:2]
    module.training_step(first, 0).backward()
    carried = module.states["train"]
    # Without the detach, this backward would run into the freed graph of the first batch.
    loss = module.training_step(second, 1)
    loss.backward()
    parts = carried if isinstance(carried, tuple) else (carried,)
    assert all(part.grad_fn is not None for part in parts)  # the raw state still holds batch 1's graph
    # The second loss equals a fresh forward from the detached state: the carried values are used...
    logits, _ = module.net(
        second[0], tuple(p.detach() for p in parts) if cell == "lstm" else parts[0].detach()
    )
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), second[1].flatten())
    torch.testing.assert_close(loss, expected)
    # ...and differ from a zero start, so the state really did carry over.
    logits, _ = module.net(second[0], None)
    assert not torch.allclose(
        loss, torch.nn.functional.cross_entropy(logits.flatten(0, 1), second[1].flatten())
    )


def test_random_sampler_starts_every_batch_from_zero():
    ids = torch.randint(0, 10, (200,))
    module = model()
    first, second = batches(RandomSampler(200, 4, 5), ids)[:2]
    module.training_step(first, 0)
    loss = module.training_step(second, 1)
    logits, _ = module.net(second[0], None)
    torch.testing.assert_close(
        loss, torch.nn.functional.cross_entropy(logits.flatten(0, 1), second[1].flatten())
    )


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_bounds_the_gradients(tmp_path, algorithm):
    ids = torch.randint(0, 10, (400,))
    seen_by_optimizer: list[float] = []

    class Probe(torch.optim.SGD):
        def step(self, closure=None):
            loss = closure() if closure is not None else None  # forward, backward, then Lightning clips
            grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
            # "norm" bounds the global L2 norm, "value" every entry (the inf-norm)
            norm_type = 2.0 if algorithm == "norm" else math.inf
            seen_by_optimizer.append(float(torch.nn.utils.get_total_norm(grads, norm_type=norm_type)))
            super().step()
            return loss

    module = model(optimizer=lambda params: Probe(params, lr=1.0))
    trainer = L.Trainer(
        max_epochs=1,
        gradient_clip_val=0.01,
        gradient_clip_algorithm=algorithm,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    partition = RandomSampler(400, 4, 5)
    trainer.fit(module, DataLoader(WindowDataset(ids, 5), sampler=partition, batch_size=None))
    assert len(seen_by_optimizer) == 19
    assert max(seen_by_optimizer) <= 0.01 * (1 + 1e-4)
    # The unclipped norm was far above the threshold, so the bound above is the clipping's doing.
    assert trainer.callback_metrics["train/grad_norm"] > 0.1


def test_missing_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="needs an optimizer"):
        model().configure_optimizers()

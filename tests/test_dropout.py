"""The block networks' dropout: Bernoulli masks of the asked rate from 16-bit uniforms, the mean kept,
reproducible from the seed; and the written-out attention that applies it equals torch's."""

import pytest
import torch
import torch.nn.functional as F

from lyrics_rnn.models.dropout import Dropout, dropout, keep_mask
from lyrics_rnn.models.transformer import CausalAttention, attend


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_masks_keep_the_asked_share_in_every_lane_of_a_draw_independently(p):
    torch.manual_seed(0)
    kept = keep_mask((250_000, 4), p, torch.device("cpu")).double()  # column j: lane j of each 64-bit draw
    assert kept.mean(dim=0).sub(1 - p).abs().max() < 0.004
    neighbours = torch.corrcoef(torch.stack([kept.flatten()[:-1], kept.flatten()[1:]]))[0, 1]
    assert abs(neighbours) < 0.01


def test_dropout_zeroes_and_scales_so_that_the_mean_is_kept():
    torch.manual_seed(0)
    x = torch.full((1000, 1000), 3.0, requires_grad=True)
    y = dropout(x, 0.3)
    assert y.unique().tolist() == [0.0, pytest.approx(3 / 0.7, rel=1e-4)]
    assert y.mean().item() == pytest.approx(3.0, rel=0.01)
    y.sum().backward()  # the gradient passes where the element was kept, scaled alike
    torch.testing.assert_close(x.grad, (y / 3).detach())


def test_the_same_seed_draws_the_same_mask_and_evaluation_drops_nothing():
    layer, x = Dropout(0.2), torch.randn(8, 16, 32)
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x), first, rtol=0, atol=0)
    assert layer.eval()(x) is x and dropout(x, 0.0) is x
    assert torch.isfinite(dropout(x, 0.9999999)).all()  # p rounds to at most 65,535 of 65,536 levels


def test_written_out_attention_without_dropout_equals_torchs():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 8)
    allowed = CausalAttention(24, 3, memory=6, dropout=0.0).allowed(steps=5, past=4, device=q.device)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    torch.testing.assert_close(attend(q, k, v, allowed, 0.0), expected, rtol=1e-5, atol=1e-6)


def test_compiled_dropout_draws_fresh_masks_of_the_asked_share():
    """model.compile=true runs the same code through torch.compile (inductor draws its own numbers)."""
    torch.manual_seed(0)
    layer, x = torch.compile(Dropout(0.3)), torch.ones(1000, 1000)
    first, second = layer(x), layer(x)
    assert (first == 0).float().mean().item() == pytest.approx(0.3, abs=0.003)
    assert first.mean().item() == pytest.approx(1.0, abs=0.01) and not torch.equal(first, second)

"""The parallel-in-time recurrences: the written-out scan against the step-by-step recurrence, windows
cut in carried pieces against the whole, generation one character at a time against the window."""

import pytest
import torch
from helpers import network

from lyrics_rnn.models.scan import LinearScan


def stepwise(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """The recurrence as written, one step after another, for autograd."""
    hiddens, h = [], h0
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        hiddens.append(h)
    return torch.stack(hiddens, dim=1)


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_the_scan_and_its_backward_equal_the_step_by_step_recurrence(dtype, tolerance):
    torch.manual_seed(0)
    a = torch.rand(3, 40, 5, dtype=dtype, requires_grad=True)  # gates in (0, 1), as the networks make them
    b = torch.randn(3, 40, 5, dtype=dtype, requires_grad=True)
    h0 = torch.randn(3, 5, dtype=dtype, requires_grad=True)
    weights = torch.randn(3, 40, 5, dtype=dtype)
    results = []
    for recurrence in (LinearScan.apply, stepwise):
        hiddens = recurrence(a, b, h0)
        gradients = torch.autograd.grad((hiddens * weights).sum(), (a, b, h0))
        results.append((hiddens, *gradients))
    for fast, reference in zip(*results, strict=True):
        torch.testing.assert_close(fast, reference, rtol=tolerance, atol=tolerance)
    if dtype == torch.float64:
        small = (t[:, :6].detach().requires_grad_() for t in (a, b))
        assert torch.autograd.gradcheck(LinearScan.apply, (*small, h0.detach().requires_grad_()))


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_window_in_two_carried_halves_equals_the_whole_window(cell):
    torch.manual_seed(0)
    net = network(30, cell=cell, num_hiddens=12, embedding_dim=8, ffn_dim=16, num_layers=2).double().eval()
    inputs = torch.randint(0, 30, (4, 20))
    whole, whole_state = net(inputs, None)
    first, state = net(inputs[:, :9], None)
    second, second_state = net(inputs[:, 9:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-12, atol=1e-12)
    for part, expected in zip(second_state, whole_state, strict=True):
        torch.testing.assert_close(part, expected, rtol=1e-12, atol=1e-12)
        assert part.shape == (4, 12)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_generation_one_character_at_a_time_equals_the_window(cell):
    torch.manual_seed(0)
    net = network(30, cell=cell, num_hiddens=12, embedding_dim=8, ffn_dim=16).eval()
    inputs = torch.randint(0, 30, (2, 15))
    whole, _ = net(inputs, None)
    state, steps = None, []
    for t in range(inputs.shape[1]):
        logits, state = net(inputs[:, t : t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-5, atol=1e-5)


def test_the_min_lstm_gates_sum_to_one_and_keep_the_state_bounded():
    """f' + i' = 1: each state is a convex mix of the last one and the candidate, so its size stays within
    the candidates' whatever the window's length."""
    torch.manual_seed(0)
    net = network(10, cell="minlstm", num_hiddens=6, embedding_dim=4, ffn_dim=0, num_layers=1).eval()
    mixer = net.mixers[0]
    x = torch.randn(2, 500, 4)
    candidates = mixer.gates(x).chunk(3, dim=-1)[2]
    _, h = mixer(x, None)
    assert h.abs().max() <= candidates.abs().max()

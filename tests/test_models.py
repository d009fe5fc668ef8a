import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lyrics_rnn.models import (
    CELLS,
    RecurrentLM,
    ScratchGRU,
    ScratchLSTM,
    ScratchRecurrent,
    ScratchRNN,
    build_network,
)
from lyrics_rnn.models.scratch import TanhRecurrence

VOCAB, HIDDEN = 1027, 256


def test_scratch_shapes_match_the_notebook():
    """Notebook: X = arange(20).reshape(4, 5) gives 5 steps of (4, 1027) outputs and a (4, 256) state."""
    net = ScratchRNN(VOCAB, HIDDEN)
    inputs = torch.arange(20).reshape(4, 5)
    logits, state = net(inputs, None)
    assert logits.shape == (4, 5, VOCAB) and state.shape == (4, HIDDEN)


def test_row_lookup_equals_the_one_hot_matmul():
    """The notebook's rnn(): H = tanh(one_hot(X) @ W_xh + H @ W_hh + b_h), Y = H @ W_ho + b_o, per step."""
    torch.manual_seed(0)
    net = ScratchRNN(50, 8)
    with torch.no_grad():
        net.b_h.normal_()
        net.b_o.normal_()
    inputs = torch.randint(0, 50, (3, 7))
    state = torch.randn(3, 8)
    logits, last = net(inputs, state)
    hidden, expected = state, []
    for x in F.one_hot(inputs, 50).float().unbind(1):
        hidden = torch.tanh(x @ net.W_xh + hidden @ net.W_hh + net.b_h)
        expected.append(hidden @ net.W_ho + net.b_o)
    torch.testing.assert_close(logits, torch.stack(expected, 1))
    torch.testing.assert_close(last, hidden)


def test_written_out_backpropagation_equals_autograd_over_the_steps():
    """TanhRecurrence's hand-written BPTT gives autograd's gradients of the book's step equation, for
    every parameter and the initial state (float64, random weights large enough to saturate tanh)."""
    torch.manual_seed(0)
    net = ScratchRNN(20, 6).double()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.normal_(0, 0.7)
    inputs = torch.randint(0, 20, (3, 9))

    def gradients(recurrence) -> list[torch.Tensor]:
        net.zero_grad()
        h0 = torch.linspace(-1, 1, 18, dtype=torch.float64).view(3, 6).requires_grad_()
        net.recurrence = recurrence
        logits, last = net(inputs, h0)
        del net.recurrence
        (logits.square().sum() + (3 * last).sum()).backward()
        return [logits.detach(), last.detach(), h0.grad, *(p.grad for p in net.parameters())]

    written_out = gradients(ScratchRNN.recurrence.__get__(net))
    stepwise = gradients(lambda terms, state: ScratchRecurrent.recurrence(net, terms, state))
    for fast, reference in zip(written_out, stepwise, strict=True):
        torch.testing.assert_close(fast, reference, rtol=1e-12, atol=1e-12)
    terms, h0, weight = (
        torch.randn(*shape, dtype=torch.float64, requires_grad=True) for shape in ((5, 3, 4), (3, 4), (4, 4))
    )
    assert torch.autograd.gradcheck(TanhRecurrence.apply, (terms, h0, weight))


def test_scratch_init_follows_the_notebook():
    torch.manual_seed(0)
    net = ScratchRNN(VOCAB, HIDDEN)
    assert abs(net.W_xh.std().item() - 0.01) < 1e-3 and abs(net.W_ho.std().item() - 0.01) < 1e-3
    assert not net.b_h.any() and not net.b_o.any()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_library_layers_shapes_and_state(cell, num_layers):
    net = RecurrentLM(CELLS[cell], 30, 16, num_layers=num_layers)
    logits, new_state = net(torch.randint(0, 30, (4, 6)), None)
    assert logits.shape == (4, 6, 30)
    parts = new_state if cell == "lstm" else (new_state,)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(part.shape == (num_layers, 4, 16) for part in parts)


def test_library_layer_sees_a_one_hot_input():
    """RNNModel feeds one-hot vectors: the first input weights act as a lookup of their columns."""
    torch.manual_seed(0)
    net = RecurrentLM(nn.RNN, 10, 4)
    inputs = torch.tensor([[3]])
    _, state = net(inputs, None)
    rnn = net.rnn
    expected = torch.tanh(rnn.weight_ih_l0[:, 3] + rnn.bias_ih_l0 + rnn.bias_hh_l0)
    torch.testing.assert_close(state[0, 0], expected)


def test_unknown_cell_and_scratch_options_are_refused():
    with pytest.raises(ValueError, match="unknown model.cell='transformer'"):
        build_network("transformer", 10, 8)
    with pytest.raises(ValueError, match="scratch network has one layer"):
        build_network("scratch", 10, 8, num_layers=2)


def copy_gate_weights(scratch, cell, gate_order, scratch_gates):
    """nn.*Cell stacks its gates' weights ([G*H, V] and [G*H, H]) in `gate_order`: copy them over."""
    hidden = scratch.num_hiddens
    with torch.no_grad():
        for index, name in enumerate(gate_order):
            gate = scratch_gates[name]
            rows = slice(index * hidden, (index + 1) * hidden)
            getattr(scratch, f"W_x{gate}").copy_(cell.weight_ih[rows].t())
            getattr(scratch, f"W_h{gate}").copy_(cell.weight_hh[rows].t())
            getattr(scratch, f"b_{gate}").copy_(cell.bias_ih[rows] + cell.bias_hh[rows])


def test_scratch_lstm_equals_lstm_cell():
    torch.manual_seed(0)
    scratch, cell = ScratchLSTM(12, 6), torch.nn.LSTMCell(12, 6)
    copy_gate_weights(scratch, cell, "ifgo", {"i": "i", "f": "f", "g": "c", "o": "o"})
    inputs = torch.randint(0, 12, (3, 4))
    h, c = torch.randn(3, 6), torch.randn(3, 6)
    _, (scratch_h, scratch_c) = scratch(inputs, (h, c))
    for x in F.one_hot(inputs, 12).float().unbind(1):
        h, c = cell(x, (h, c))
    torch.testing.assert_close(scratch_h, h)
    torch.testing.assert_close(scratch_c, c)


@pytest.mark.parametrize("diagonal", [True, False])
def test_scratch_gru_against_gru_cell(diagonal):
    """Same gates and weights. The book applies the reset gate before W_hh, (R * H) W_hh; nn.GRUCell after,
    R * (H W_hn + b_hn). The two agree exactly when W_hh is diagonal (and b_hn = 0), and only then."""
    torch.manual_seed(0)
    scratch, cell = ScratchGRU(12, 6), torch.nn.GRUCell(12, 6)
    with torch.no_grad():
        cell.bias_hh[12:].zero_()  # b_hn: nn.GRU's extra bias inside the reset gate
        if diagonal:
            cell.weight_hh[12:] = torch.diag(torch.randn(6))
    copy_gate_weights(scratch, cell, "rzn", {"r": "r", "z": "z", "n": "h"})
    inputs = torch.randint(0, 12, (3, 4))
    h = torch.randn(3, 6)
    _, scratch_h = scratch(inputs, h)
    for x in F.one_hot(inputs, 12).float().unbind(1):
        h = cell(x, h)
    assert torch.allclose(scratch_h, h, atol=1e-6) == diagonal


@pytest.mark.parametrize(("net", "state_parts"), [(ScratchGRU, 1), (ScratchLSTM, 2)])
def test_scratch_gated_shapes_and_init(net, state_parts):
    torch.manual_seed(0)
    model = net(VOCAB, HIDDEN)
    logits, state = model(torch.arange(20).reshape(4, 5), None)
    assert logits.shape == (4, 5, VOCAB)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == state_parts and all(p.shape == (4, HIDDEN) for p in parts)
    assert (
        abs(model.W_xz.std().item() - 0.01) < 1e-3
        if net is ScratchGRU
        else abs(model.W_xi.std().item() - 0.01) < 1e-3
    )
    assert not model.b_q.any()

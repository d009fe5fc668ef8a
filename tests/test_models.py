import pytest
import torch
import torch.nn.functional as F

from lyrics_rnn.models import RecurrentLM, ScratchRNN, build_network

VOCAB, HIDDEN = 1027, 256


def test_scratch_shapes_match_the_notebook():
    """Notebook: X = arange(20).reshape(4, 5) gives 5 steps of (4, 1027) outputs and a (4, 256) state."""
    net = ScratchRNN(VOCAB, HIDDEN)
    inputs = torch.arange(20).reshape(4, 5)
    logits, state = net(inputs, net.init_state(4))
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


def test_scratch_init_follows_the_notebook():
    torch.manual_seed(0)
    net = ScratchRNN(VOCAB, HIDDEN)
    assert abs(net.W_xh.std().item() - 0.01) < 1e-3 and abs(net.W_ho.std().item() - 0.01) < 1e-3
    assert not net.b_h.any() and not net.b_o.any()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_library_layers_shapes_and_state(cell, num_layers):
    net = RecurrentLM(cell, 30, 16, num_layers=num_layers)
    state = net.init_state(4)
    logits, new_state = net(torch.randint(0, 30, (4, 6)), state)
    assert logits.shape == (4, 6, 30)
    parts = new_state if cell == "lstm" else (new_state,)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(part.shape == (num_layers, 4, 16) for part in parts)


def test_library_layer_sees_a_one_hot_input():
    """RNNModel feeds one-hot vectors: the first input weights act as a lookup of their columns."""
    torch.manual_seed(0)
    net = RecurrentLM("rnn", 10, 4)
    inputs = torch.tensor([[3]])
    _, state = net(inputs, net.init_state(1))
    rnn = net.rnn
    expected = torch.tanh(rnn.weight_ih_l0[:, 3] + rnn.bias_ih_l0 + rnn.bias_hh_l0)
    torch.testing.assert_close(state[0, 0], expected)


def test_bidirectional_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="bidirectional.*sees the next character"):
        build_network("lstm", 10, 8, bidirectional=True)


def test_unknown_cell_and_scratch_options_are_refused():
    with pytest.raises(ValueError, match="unknown model.cell='transformer'"):
        build_network("transformer", 10, 8)
    with pytest.raises(ValueError, match="scratch RNN has one layer"):
        build_network("scratch", 10, 8, num_layers=2)

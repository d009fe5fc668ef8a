import pytest
import torch
import torch.nn.functional as F
from helpers import network

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models import NETWORKS, Ensemble, known_settings, network_config
from lyrics_rnn.models.recurrent import LockedDropout
from lyrics_rnn.models.scratch import ScratchRecurrent, ScratchRNN, TanhRecurrence

VOCAB, HIDDEN = 1027, 256


def test_scratch_shapes_match_the_notebook():
    """Notebook: X = arange(20).reshape(4, 5) gives 5 steps of (4, 1027) outputs and a (4, 256) state."""
    net = network(VOCAB, cell="scratch", num_hiddens=HIDDEN)
    inputs = torch.arange(20).reshape(4, 5)
    logits, state = net(inputs, None)
    assert logits.shape == (4, 5, VOCAB) and state.shape == (4, HIDDEN)


def test_row_lookup_equals_the_one_hot_matmul():
    """The notebook's rnn(): H = tanh(one_hot(X) @ W_xh + H @ W_hh + b_h), Y = H @ W_ho + b_o, per step."""
    torch.manual_seed(0)
    net = network(50, cell="scratch", num_hiddens=8)
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
    net = network(20, cell="scratch", num_hiddens=6).double()
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
    net = network(VOCAB, cell="scratch", num_hiddens=HIDDEN)
    assert abs(net.W_xh.std().item() - 0.01) < 1e-3 and abs(net.W_ho.std().item() - 0.01) < 1e-3
    assert not net.b_h.any() and not net.b_o.any()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_library_layers_shapes_and_state(cell, num_layers):
    net = network(30, cell=cell, num_hiddens=16, num_layers=num_layers)
    logits, new_state = net(torch.randint(0, 30, (4, 6)), None)
    assert logits.shape == (4, 6, 30)
    parts = new_state if cell == "lstm" else (new_state,)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(part.shape == (num_layers, 4, 16) for part in parts)


def test_library_layer_sees_a_one_hot_input():
    """RNNModel feeds one-hot vectors: the first input weights act as a lookup of their columns."""
    torch.manual_seed(0)
    net = network(10, cell="rnn", num_hiddens=4)
    inputs = torch.tensor([[3]])
    _, state = net(inputs, None)
    rnn = net.rnn
    expected = torch.tanh(rnn.weight_ih_l0[:, 3] + rnn.bias_ih_l0 + rnn.bias_hh_l0)
    torch.testing.assert_close(state[0, 0], expected)


def test_unknown_cells_and_settings_are_refused_by_name():
    with pytest.raises(LyricsError, match="unknown model.cell='nope'"):
        network(10, cell="nope", num_hiddens=8)
    with pytest.raises(LyricsError, match="model.num_layers is not a setting of the scratch network"):
        network(10, cell="scratch", num_hiddens=8, num_layers=2)
    for settings, fragment in [
        ({"num_hiddens": 0}, "model.num_hiddens=0 must be at least 1"),
        ({"ensemble": 0}, "model.ensemble=0 must be at least 1"),
        ({"output_dropout": 1.5}, r"model.output_dropout=1.5 must lie in \[0, 1\)"),
        ({"embedding_dim": 0}, "model.embedding_dim=0 must be at least 1, or null"),
        ({"tie_weights": True}, "needs an input embedding"),
    ]:
        with pytest.raises(LyricsError, match=fragment):
            network_config(cell="lstm", **settings)


def test_a_config_is_every_setting_of_its_family_and_knows_its_shapes():
    config = network_config(cell="lstm", num_hiddens=8, dropout=0.2)
    assert vars(config)["num_layers"] == 1 and vars(config)["dropout"] == 0.2  # defaults filled in
    assert config.shapes() == {
        "cell": "lstm", "num_hiddens": 8, "ensemble": 1, "num_layers": 1, "embedding_dim": None, "tie_weights": False,
    }  # fmt: skip
    assert set(vars(network_config(cell="scratch"))) == {"cell", "num_hiddens", "ensemble"}
    assert all(hasattr(network_class, "Config") for network_class in NETWORKS.values())


def test_settings_of_another_family_at_their_defaults_are_what_older_versions_wrote():
    """Checkpoints of version 0.1 list every setting of the recurrent family: those at its defaults are
    left out for the other networks, anything else is left for the Config to refuse."""
    old = {"cell": "scratch", "num_hiddens": 8, "num_layers": 1, "dropout": 0.0, "embedding_dim": None}
    assert known_settings(old) == {"cell": "scratch", "num_hiddens": 8}
    assert known_settings({**old, "num_layers": 2})["num_layers"] == 2


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
    scratch, cell = network(12, cell="scratch_lstm", num_hiddens=6), torch.nn.LSTMCell(12, 6)
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
    scratch, cell = network(12, cell="scratch_gru", num_hiddens=6), torch.nn.GRUCell(12, 6)
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


@pytest.mark.parametrize(("cell", "state_parts"), [("scratch_gru", 1), ("scratch_lstm", 2)])
def test_scratch_gated_shapes_and_init(cell, state_parts):
    torch.manual_seed(0)
    model = network(VOCAB, cell=cell, num_hiddens=HIDDEN)
    logits, state = model(torch.arange(20).reshape(4, 5), None)
    assert logits.shape == (4, 5, VOCAB)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == state_parts and all(p.shape == (4, HIDDEN) for p in parts)
    assert (
        abs(model.W_xz.std().item() - 0.01) < 1e-3
        if cell == "scratch_gru"
        else abs(model.W_xi.std().item() - 0.01) < 1e-3
    )
    assert not model.b_q.any()


def test_tied_weights_share_storage_and_a_projection_bridges_sizes():
    net = network(30, cell="lstm", num_hiddens=16, embedding_dim=16, tie_weights=True)
    assert net.dense.weight.data_ptr() == net.embedding.weight.data_ptr()
    wide = network(30, cell="lstm", num_hiddens=32, embedding_dim=8, tie_weights=True)
    assert wide.dense.weight is wide.embedding.weight and wide.project.out_features == 8
    logits, _ = wide(torch.zeros(2, 5, dtype=torch.long), None)
    assert logits.shape == (2, 5, 30)
    with pytest.raises(ValueError, match="needs an input embedding"):
        network(30, cell="lstm", num_hiddens=16, tie_weights=True)


def test_locked_dropout_uses_one_mask_per_sequence():
    dropout = LockedDropout(0.5).train()
    out = dropout(torch.ones(4, 7, 10))
    zeros = out == 0
    assert zeros.any() and (zeros == zeros[:, :1]).all()  # the same features dropped at every step
    assert torch.equal(dropout.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_token_dropout_drops_whole_characters_for_the_batch():
    torch.manual_seed(0)
    net = network(40, cell="lstm", num_hiddens=8, embedding_dim=6, token_dropout=0.5)
    seen = []
    net.rnn.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    inputs = torch.arange(40).repeat(2)[None]  # every character twice
    with torch.no_grad():
        net(inputs, None)
    first, second = seen[0][0].split(40)
    assert torch.equal(first, second)  # a character is dropped everywhere in the batch, or nowhere
    scale = (first.norm(dim=1) / net.embedding.weight.detach().norm(dim=1)).round(decimals=4)
    assert set(scale.tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    net.eval()
    torch.testing.assert_close(net.embedding(inputs), net.embedding.weight[inputs])


def test_ensemble_members_learn_alone_and_are_scored_as_their_average_probability():
    torch.manual_seed(0)
    ensemble = network(12, cell="gru", num_hiddens=6, ensemble=3)
    members = list(ensemble.members)
    assert len({m.dense.weight.data_ptr() for m in members}) == 3  # its own initial weights each
    inputs, targets = torch.randint(0, 12, (2, 5)), torch.randint(0, 12, (2, 5))
    logits, state = ensemble(inputs, None)
    assert logits.shape == (6, 5, 12) and len(state) == 3
    # The module's training loss (members stacked along the batch) is the mean of the members' losses:
    # member 0's gradient is its own loss's, divided by three, whatever the others do.
    F.cross_entropy(logits.flatten(0, 1), targets.repeat(3, 1).flatten()).backward()
    alone = network(12, cell="gru", num_hiddens=6)
    alone.load_state_dict(members[0].state_dict())
    alone_logits, _ = alone(inputs, None)
    F.cross_entropy(alone_logits.flatten(0, 1), targets.flatten()).backward()
    for mine, its in zip(members[0].parameters(), alone.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, its.grad / 3)
    ensemble.eval()
    log_probs, _ = ensemble(inputs, None)
    average = torch.stack([m(inputs, None)[0].softmax(-1) for m in members]).mean(0)
    torch.testing.assert_close(log_probs.exp(), average)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 5))
    weighted = Ensemble(members, torch.tensor([0.5, 0.5, 0.0])).eval()
    halves = torch.stack([m(inputs, None)[0].softmax(-1) for m in members[:2]]).mean(0)
    torch.testing.assert_close(weighted(inputs, None)[0].exp(), halves)
    assert "log_weights" not in weighted.state_dict()  # checkpoints of model.ensemble=K hold members only

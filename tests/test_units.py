"""What the units view and the read view compute, against the networks themselves."""

import numpy as np
import pytest
import torch
from helpers import network

from lyrics_rnn.adapt import target_probs
from lyrics_rnn.context_cache import perplexity
from lyrics_rnn.reading import read
from lyrics_rnn.units import activations, correlations, rank_units, state_layers, text_properties
from lyrics_rnn.vocab import Vocab

TEXT = "分开 我不要再想 我不要再想 我不 我不 我不要再想你 不知不觉 你已经离开我 "
VOCAB = Vocab(sorted(set(TEXT)))
IDS = torch.from_numpy(VOCAB.encode(TEXT))

LAYERS = {  # settings -> the layer names and their sizes
    ("scratch", ()): {"state 1": 8},
    ("scratch_lstm", ()): {"state 1": 8, "state 2": 8},
    ("lstm", (("num_layers", 2),)): {f"state {p}, layer {k}": 8 for p in (1, 2) for k in (1, 2)},
    ("gru", ()): {"state 1, layer 1": 8},
    ("mingru", (("num_layers", 2),)): {"state 1": 8, "state 2": 8},
    ("transformer", (("num_layers", 1), ("embedding_dim", 8), ("num_heads", 2))): {
        "state 1": 8,
        "state 2": 8,
    },
    ("rnn", (("ensemble", 2),)): {"state 1, layer 1": 8, "state 2, layer 1": 8},
}


@pytest.mark.parametrize(("cell", "settings"), list(LAYERS), ids=[cell for cell, _ in LAYERS])
def test_every_network_state_is_named_layers_of_units(cell, settings):
    torch.manual_seed(0)
    extra = dict(settings)
    width = {"embedding_dim": 8} if cell in ("mingru",) else {}
    net = network(len(VOCAB), cell=cell, num_hiddens=8, **width, **extra).eval()
    layers = activations(net, IDS)
    assert {name: units.shape[1] for name, units in layers.items()} == LAYERS[(cell, settings)]
    assert all(units.shape[0] == len(TEXT) for units in layers.values())
    with torch.no_grad():  # the values after character t are the state of reading the first t + 1
        _, state = net(IDS[:10][None], None)
    for name, vector in state_layers(state).items():
        np.testing.assert_allclose(layers[name][9], vector.numpy(), rtol=1e-4, atol=1e-5)


def test_text_properties():
    props = text_properties("ab cab cab")
    assert props["position in line"].tolist() == [1, 2, 0, 1, 2, 3, 0, 1, 2, 3]
    assert props["space or line break"].tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0]
    assert props["inside a repeat"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]  # "ab c" ended at 3 first


def test_rank_units_finds_the_unit_that_counts_the_position():
    position = text_properties(TEXT)["position in line"]
    noise = np.random.default_rng(0).normal(size=(len(TEXT), 6))
    planted = noise.copy()
    planted[:, 4] = -position + 0.01 * noise[:, 4]
    best = rank_units({"noise": noise, "planted": planted}, TEXT, top=1)[0]
    assert (best.layer, best.unit) == ("planted", 4) and best.r < -0.99
    assert correlations(np.ones((5, 2)), np.arange(5.0)).tolist() == [0.0, 0.0]  # a constant unit


@pytest.mark.parametrize("cell", ["lstm", "transformer"])
def test_read_scores_as_evaluation_does_and_keeps_the_training_mode(cell):
    torch.manual_seed(0)
    net = network(len(VOCAB), cell=cell, num_hiddens=16).train()
    reading = read(net, VOCAB, IDS, num_steps=7)
    assert net.training
    assert reading.perplexity == pytest.approx(perplexity(target_probs(net, IDS, 1, 35)), rel=1e-5)
    assert len(reading.bits) == len(TEXT) - 1 and reading.top_probs.shape == (len(TEXT) - 1, 5)
    assert (np.diff(reading.top_probs, axis=1) <= 0).all()  # likeliest first

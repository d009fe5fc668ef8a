"""Scoring held-out text: every character once, whatever the streams."""

import random

import pytest
import torch
from helpers import network

from lyrics_rnn.adapt import target_probs


def test_every_target_is_scored_once_whatever_the_streams():
    net = network(5, cell="gru", num_hiddens=8)
    ids = torch.tensor([random.Random(2).randrange(5) for _ in range(53)])
    one = target_probs(net, ids, num_streams=1, num_steps=4)
    three = target_probs(net, ids, num_streams=3, num_steps=7)
    assert len(one) == len(three) == 52
    assert one[0] == pytest.approx(three[0], rel=1e-5)  # both start from a zero state

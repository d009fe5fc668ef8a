import pytest
import torch
from helpers import network

from lyrics_rnn.sampling import copy_rate, generate, stream
from lyrics_rnn.vocab import Vocab

VOCAB = Vocab.from_text("不分开我想你")


class Spy(torch.nn.Module):
    """Records every input it is given and counts the steps it has seen in its state."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.calls, self.grad_modes = [], []

    def forward(self, inputs, state):
        state = torch.zeros(inputs.shape[0], 1) if state is None else state
        self.calls.append((inputs.tolist(), float(state)))
        self.grad_modes.append(torch.is_grad_enabled())
        logits = torch.zeros(1, inputs.shape[1], len(VOCAB))
        logits[..., VOCAB.char_to_idx["我"]] = 1
        return logits, state + inputs.shape[1]


def test_warm_up_feeds_the_whole_prefix_and_carries_the_state():
    spy = Spy()
    text = generate(spy, VOCAB, "不分开", 3)
    assert text == "不分开我我我"
    prefix, *steps = spy.calls
    assert prefix == ([VOCAB.encode("不分开").tolist()], 0.0)
    assert [state for _, state in steps] == [3.0, 4.0, 5.0]


def test_stream_yields_each_character_as_drawn_without_gradients():
    spy = Spy()
    written = stream(spy, VOCAB, "不分开", 3)
    assert spy.calls == []  # nothing drawn before it is asked for
    assert next(written) == "我" and len(spy.calls) == 2  # the warm-up and the first step
    assert torch.is_grad_enabled()  # the caller's grad mode, between characters
    assert list(written) == ["我", "我"] and spy.grad_modes == [False] * 4


def test_greedy_generation_equals_stepwise_argmax():
    torch.manual_seed(0)
    net = network(len(VOCAB), cell="scratch", num_hiddens=16)
    text = generate(net, VOCAB, "不分开", 5)
    ids, state = VOCAB.encode("不分开").tolist(), None
    for index in ids:
        logits, state = net(torch.tensor([[index]]), state)
    for _ in range(5):
        ids.append(int(logits[0, -1].argmax()))
        logits, state = net(torch.tensor([[ids[-1]]]), state)
    assert text == VOCAB.decode(ids) and len(text) == 3 + 5


def test_generation_restores_training_mode():
    net = network(len(VOCAB), cell="scratch", num_hiddens=4).train()
    generate(net, VOCAB, "我", 2)
    assert net.training


def test_prefix_with_unknown_characters_is_refused():
    with pytest.raises(ValueError, match="not in the vocabulary.*周"):
        generate(network(len(VOCAB), cell="scratch", num_hiddens=4), VOCAB, "周我", 2)


def test_copy_rate_counts_windows_found_verbatim_in_the_training_text():
    training = "abcdefghijklmnop"
    assert copy_rate(["cdefghijkl"], training, n=4) == 1.0
    assert copy_rate(["abcdxyzw"], training, n=4) == pytest.approx(1 / 5)  # only "abcd" of 5 windows
    with pytest.raises(ValueError, match="no 4-character window"):
        copy_rate(["abc"], training, n=4)

"""The Transformer: a window with the previous one's memory equals the whole context, the memory keeps
its length, and generation from the key/value cache equals recomputing from scratch."""

import torch
from helpers import network

from lyrics_rnn.sampling import generate
from lyrics_rnn.vocab import Vocab


def transformer(memory: int = 64, **settings):
    torch.manual_seed(0)
    return network(30, cell="transformer", num_hiddens=32, embedding_dim=16, num_heads=2, memory=memory,
                   **settings).eval()  # fmt: skip


def test_a_window_with_the_previous_windows_memory_equals_the_full_context():
    net = transformer(memory=64)
    inputs = torch.randint(0, 30, (3, 24))
    whole, _ = net(inputs, None)
    first, memory = net(inputs[:, :10], None)
    second, _ = net(inputs[:, 10:], memory)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-5)


def test_no_character_sees_a_later_one():
    net = transformer()
    inputs = torch.randint(0, 30, (2, 12))
    changed = inputs.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 30
    torch.testing.assert_close(net(inputs, None)[0][:, :7], net(changed, None)[0][:, :7])


def test_the_memory_keeps_the_last_characters_and_what_a_character_sees_is_not_cut_by_batches():
    net = transformer(memory=5)
    inputs = torch.randint(0, 30, (2, 17))
    whole, _ = net(inputs, None)
    pieces, state = [], None
    for start in range(
        0, 17, 3
    ):  # windows of 3 with a memory of 5: every character sees the same 5 before it
        logits, state = net(inputs[:, start : start + 3], state)
        pieces.append(logits)
        assert len(state) == 2 and all(k.shape == v.shape == (2, 2, 5, 8) for k, v in state if start >= 3)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=1e-5, atol=1e-5)
    changed = inputs.clone()  # two layers of 5 each: position 12 sees back to position 2, and no further
    changed[:, :2] = (changed[:, :2] + 1) % 30
    torch.testing.assert_close(net(changed, None)[0][:, 12:], whole[:, 12:], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(net(changed, None)[0][:, 11], whole[:, 11])


def test_generation_from_the_cache_equals_recomputing_from_scratch():
    net = transformer(memory=64)
    vocab = Vocab([chr(0x4E00 + i) for i in range(30)])
    prefix = vocab.decode([3, 1, 4, 1, 5])
    written = generate(net, vocab, prefix, 20)
    ids = vocab.encode(prefix).tolist()
    for _ in range(20):  # the whole text so far through the network each time, no state
        logits, _ = net(torch.tensor([ids]), None)
        ids.append(int(logits[0, -1].argmax()))
    assert written == vocab.decode(ids)

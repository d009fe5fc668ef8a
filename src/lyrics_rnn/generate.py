"""Writing lyrics the book's way: warm up on the whole prefix, then feed back the argmax."""

from __future__ import annotations

import torch
from torch import nn

from lyrics_rnn.corpus import Vocab


@torch.no_grad()
def generate(net: nn.Module, vocab: Vocab, prefix: str, num_chars: int) -> str:
    """Return `prefix` followed by `num_chars` greedily decoded characters."""
    if not prefix:
        raise ValueError("the prefix must hold at least one character.")
    was_training = net.training
    net.eval()
    try:
        device = next(net.parameters()).device
        ids = vocab.encode(prefix)
        # Warm-up: every prefix character goes through the network, the state carried along.
        logits, state = net(torch.tensor([ids], device=device), net.init_state(1, device))
        for _ in range(num_chars):
            next_id = logits[0, -1].argmax().view(1, 1)
            ids.append(int(next_id))
            logits, state = net(next_id, state)
    finally:
        net.train(was_training)
    return vocab.decode(ids)

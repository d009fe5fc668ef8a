"""What a model makes of a text, character by character: how surprised it is by each one (bits) and
what it expected instead (its top guesses). The studio's and explain.py's "read" view."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lyrics_rnn.samplers import stream_batches
from lyrics_rnn.vocab import Vocab

UNKNOWN = "\ufffd"  # how a character read as <unk> is shown: one character, so positions stay aligned


@dataclass
class Reading:
    """`text` as the model read it; for every character after the first, its surprisal
    -log2 P(char | the text before it) and the model's `top` likeliest characters there."""

    text: str
    bits: np.ndarray  # [N - 1]
    top_chars: list[list[str]]  # [N - 1][top]
    top_probs: np.ndarray  # [N - 1, top]

    @property
    def bits_per_char(self) -> float:
        return float(self.bits.mean())

    @property
    def perplexity(self) -> float:
        return 2.0**self.bits_per_char


@torch.no_grad()
def read(net: nn.Module, vocab: Vocab, ids: Tensor, top: int = 5, num_steps: int = 256) -> Reading:
    """Score `ids` as evaluate.py does (one stream, the state carried from window to window), keeping
    per window only the target's log-probability and the top guesses: memory does not grow with V."""
    was_training = net.training
    net.eval()
    try:
        return _read(net, vocab, ids, top, num_steps)
    finally:
        net.train(was_training)


def _read(net: nn.Module, vocab: Vocab, ids: Tensor, top: int, num_steps: int) -> Reading:
    device = next(net.parameters()).device
    state, bits, top_ids, top_probs = None, [], [], []
    for inputs, targets, _ in stream_batches(ids, 1, num_steps):
        logits, state = net(inputs.to(device), state)
        log_probs = logits[0].float().log_softmax(-1)
        real = targets[0] >= 0  # the last window is padded
        picked = log_probs.gather(-1, targets[0].clamp(min=0).to(device)[:, None])[:, 0]
        bits.append((-picked / math.log(2))[real.to(device)].cpu())
        best = log_probs[real.to(device)].topk(min(top, log_probs.shape[-1]), dim=-1)
        top_ids.append(best.indices.cpu())
        top_probs.append(best.values.exp().cpu())
    guesses = torch.cat(top_ids).tolist()
    return Reading(
        text=vocab.decode(ids.tolist(), unk=UNKNOWN),
        bits=torch.cat(bits).double().numpy(),
        top_chars=[[vocab.idx_to_char[i] for i in row] for row in guesses],
        top_probs=torch.cat(top_probs).numpy(),
    )

"""A small causal Transformer (pre-norm, rotary positions, tied embedding,
`scaled_dot_product_attention`) in which every character attends to itself and the `memory` characters
before it. Its state between consecutive batches is the keys and values of the last `memory` characters
(Transformer-XL's segment memory), so that it sees across batch boundaries as the recurrent networks
do, and what it sees does not depend on how the text is cut into batches (validation's long batches
score as training's short ones); in generation the same state is the key/value cache."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lyrics_rnn.models.blocks import BlockLM
from lyrics_rnn.models.config import TransformerConfig
from lyrics_rnn.models.dropout import dropout


def rotate(x: Tensor, start: int = 0) -> Tensor:
    """Rotary position embedding (Su et al. 2021) of x [B, H, T, D] at positions start..start+T-1: a
    query and a key meet at an angle that depends only on how far apart they are, so keys kept from
    an earlier batch are rotated afresh at their place in the current window."""
    half = x.shape[-1] // 2
    frequencies = 10000 ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    positions = torch.arange(start, start + x.shape[-2], device=x.device, dtype=torch.float32)
    angles = positions[:, None] * frequencies[None, :]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class CausalAttention(nn.Module):
    """Multi-head attention of each character over itself and the `memory` characters before it, in
    this window or kept from the last. The state is (keys before rotation, values) of the last `memory`
    characters, [B, H, M, D / H] each."""

    def __init__(self, dim: int, num_heads: int, memory: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.memory, self.dropout = num_heads, memory, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        batch, steps, dim = x.shape
        q, k, v = self.qkv(x).view(batch, steps, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        if state is not None:
            k, v = torch.cat([state[0].to(k.dtype), k], dim=2), torch.cat([state[1].to(v.dtype), v], dim=2)
        past = k.shape[2] - steps
        q, rotated = rotate(q, past), rotate(k)
        # Query i (at position past + i) sees keys past + i - memory .. past + i.
        if self.training and self.dropout:
            y = attend(q, rotated, v, self.allowed(steps, past, x.device), self.dropout)
        elif not past and steps <= self.memory:
            y = F.scaled_dot_product_attention(q, rotated, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, rotated, v, attn_mask=self.allowed(steps, past, x.device))
        keep = k.shape[2] - min(self.memory, k.shape[2])
        return self.out(y.transpose(1, 2).reshape(batch, steps, dim)), (k[:, :, keep:], v[:, :, keep:])

    def allowed(self, steps: int, past: int, device: torch.device) -> Tensor:
        """[steps, past + steps]: which keys each query sees."""
        allowed = torch.ones(steps, past + steps, dtype=torch.bool, device=device)
        return allowed.tril(past).triu(past - self.memory)


def attend(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor, p: float) -> Tensor:
    """Attention written out, with dropout on its weights drawn by `keep_mask`: what
    `scaled_dot_product_attention` computes, whose own dropout draws a 32-bit number per weight."""
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    return dropout(weights, p) @ v


class TransformerLM(BlockLM):
    """`model=transformer`: blocks of causal attention with a segment memory and a feed-forward part."""

    Config = TransformerConfig

    def __init__(self, vocab_size: int, config: TransformerConfig) -> None:
        mixers = [
            CausalAttention(config.embedding_dim, config.num_heads, config.memory, config.dropout)
            for _ in range(config.num_layers)
        ]
        super().__init__(vocab_size, config, mixers, config.num_hiddens)

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
        if (
            past or steps > self.memory
        ):  # query i (at position past + i) sees keys past + i - memory..past + i
            allowed = torch.ones(steps, past + steps, dtype=torch.bool, device=x.device)
            mask = {"attn_mask": allowed.tril(past).triu(past - self.memory)}
        else:
            mask = {"is_causal": True}
        y = F.scaled_dot_product_attention(
            rotate(q, past), rotate(k), v, dropout_p=self.dropout if self.training else 0.0, **mask
        )
        keep = k.shape[2] - min(self.memory, k.shape[2])
        return self.out(y.transpose(1, 2).reshape(batch, steps, dim)), (k[:, :, keep:], v[:, :, keep:])


class TransformerLM(BlockLM):
    """`model=transformer`: blocks of causal attention with a segment memory and a feed-forward part."""

    Config = TransformerConfig

    def __init__(self, vocab_size: int, config: TransformerConfig) -> None:
        mixers = [
            CausalAttention(config.embedding_dim, config.num_heads, config.memory, config.dropout)
            for _ in range(config.num_layers)
        ]
        super().__init__(vocab_size, config, mixers, config.num_hiddens)

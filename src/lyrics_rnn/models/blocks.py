"""What the block networks share (the parallel-in-time recurrences and the Transformer): an input
embedding, pre-normalised residual blocks of a mixing part and a feed-forward part, a final norm and a
head, tied to the embedding by default. A block's mixing part is the only part that looks across time,
and carries its state (one entry per block) from batch to batch."""

from __future__ import annotations

from torch import Tensor, nn

from lyrics_rnn.models.config import BlockConfig
from lyrics_rnn.models.dropout import Dropout
from lyrics_rnn.models.recurrent import LockedDropout, embed
from lyrics_rnn.models.state import State


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, width: int) -> None:
        super().__init__(nn.Linear(dim, width), nn.GELU(), nn.Linear(width, dim))


class BlockLM(nn.Module):
    """embedding -> per block: x + dropout(mix(norm(x), state)), x + dropout(ffn(norm(x))) -> norm ->
    head. `mixers` are the blocks' mixing parts: `mixer(x [B, T, D], state or None) -> (y, state)`."""

    def __init__(self, vocab_size: int, config: BlockConfig, mixers: list[nn.Module], ffn_dim: int) -> None:
        super().__init__()
        dim = config.embedding_dim
        self.embedding = nn.Embedding(vocab_size, dim)
        self.mixers = nn.ModuleList(mixers)
        self.mix_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in mixers)
        self.ffns = nn.ModuleList(FeedForward(dim, ffn_dim) for _ in mixers) if ffn_dim else None
        self.ffn_norms = nn.ModuleList(nn.LayerNorm(dim) for _ in mixers) if ffn_dim else None
        self.dropout = Dropout(config.dropout)
        self.embedding_dropout = LockedDropout(config.embedding_dropout)
        self.output_dropout = LockedDropout(config.output_dropout)
        self.token_dropout = config.token_dropout
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        # Rows of unit length on average: a tied head's first logits are about a unit wide, not sqrt(dim).
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        if config.tie_weights:
            self.head.weight = self.embedding.weight
        else:
            nn.init.normal_(self.head.weight, std=dim**-0.5)

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs [B, T] of indices -> logits [B, T, V] and each block's state (None: start afresh)."""
        x = self.embedding_dropout(
            embed(self.embedding, inputs, self.token_dropout if self.training else 0.0)
        )
        states = state if state is not None else (None,) * len(self.mixers)
        carried = []
        for index, mixer in enumerate(self.mixers):
            mixed, block_state = mixer(self.mix_norms[index](x), states[index])
            x = x + self.dropout(mixed)
            if self.ffns is not None:
                x = x + self.dropout(self.ffns[index](self.ffn_norms[index](x)))
            carried.append(block_state)
        return self.head(self.output_dropout(self.norm(x))), tuple(carried)

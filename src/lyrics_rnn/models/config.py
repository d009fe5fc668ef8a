"""A network's settings as one dataclass per family: what builds the network, what a checkpoint keeps
(as a plain dict), what the config schema accepts, what the HParams row shows and what a resume must
match (the settings marked `shape`, which fix the weights' shapes)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lyrics_rnn.errors import LyricsError


def shape(default: Any) -> Any:
    """A setting that fixes the weights' shapes: a checkpoint resumes only a run that asks for the same."""
    return dataclasses.field(default=default, metadata={"shape": True})


def at_least(name: str, value: int, low: int, hint: str = "") -> None:
    if value < low:
        raise LyricsError(f"model.{name}={value} must be at least {low}{hint}.")


def share(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise LyricsError(f"model.{name}={value} must lie in [0, 1) (a share of units dropped).")


@dataclass
class NetworkConfig:
    """What every network takes: its cell, its width, and how many of it train side by side."""

    cell: str = shape("scratch")
    num_hiddens: int = shape(256)
    ensemble: int = shape(1)  # K > 1: K networks, each its own initial weights, scored as their average

    def __post_init__(self) -> None:
        at_least("num_hiddens", self.num_hiddens, 1)
        at_least("ensemble", self.ensemble, 1)

    def shapes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("shape")}


@dataclass
class EmbeddedConfig(NetworkConfig):
    """Networks with layers, an optional input embedding (null: one-hot), an optionally tied head and
    the dropouts of small-data language models (AWD-LSTM)."""

    num_layers: int = shape(1)
    dropout: float = 0.0  # between layers
    embedding_dim: int | None = shape(None)
    tie_weights: bool = shape(False)  # output layer = embedding (a projection bridges the widths)
    embedding_dropout: float = 0.0  # locked: one mask per sequence
    output_dropout: float = 0.0  # locked
    weight_dropout: float = 0.0  # DropConnect on the recurrent weights
    token_dropout: float = 0.0  # whole characters dropped from the input for a batch

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("num_layers", self.num_layers, 1)
        for name in ("dropout", "embedding_dropout", "output_dropout", "weight_dropout", "token_dropout"):
            share(name, getattr(self, name))
        if self.embedding_dim is not None:  # 0 would silently mean one-hot
            at_least("embedding_dim", self.embedding_dim, 1, ", or null for the book's one-hot input")
        if self.tie_weights and self.embedding_dim is None:
            raise LyricsError("model.tie_weights=true needs an input embedding: set model.embedding_dim.")


@dataclass
class BlockConfig(NetworkConfig):
    """Stacked pre-normalised residual blocks over an input embedding (the residual stream's width),
    each a mixing part (a recurrence or attention) and a feed-forward part, with an optionally tied head:
    the parallel-in-time recurrences and the Transformer."""

    num_layers: int = shape(2)
    embedding_dim: int = shape(256)
    tie_weights: bool = shape(True)
    dropout: float = 0.1  # on each block's output, before it joins the residual stream
    embedding_dropout: float = 0.0  # locked: one mask per sequence, on the input embedding
    output_dropout: float = 0.0  # locked, before the head
    token_dropout: float = 0.0  # whole characters dropped from the input for a batch

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("num_layers", self.num_layers, 1)
        at_least("embedding_dim", self.embedding_dim, 1)
        for name in ("dropout", "embedding_dropout", "output_dropout", "token_dropout"):
            share(name, getattr(self, name))


@dataclass
class ScanConfig(BlockConfig):
    """minGRU and minLSTM: `num_hiddens` units in each block's recurrence, `ffn_dim` in its feed-forward
    part (0: none)."""

    ffn_dim: int = shape(512)

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("ffn_dim", self.ffn_dim, 0)


@dataclass
class TransformerConfig(BlockConfig):
    """A causal Transformer: `num_heads` heads of attention of each character over itself and the
    `memory` characters before it (those of the previous batch kept as keys and values, as Transformer-XL
    carries them), and `num_hiddens` units in each feed-forward part."""

    num_hiddens: int = shape(1024)
    num_heads: int = shape(4)
    memory: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("num_heads", self.num_heads, 1)
        at_least("memory", self.memory, 1)
        if self.embedding_dim % (2 * self.num_heads):
            raise LyricsError(
                f"model.embedding_dim={self.embedding_dim} must be a multiple of twice model.num_heads="
                f"{self.num_heads} (each head's width is even, for its rotary positions)."
            )

"""`nn.RNN` / `nn.GRU` / `nn.LSTM` with a linear head: the notebook's `RNNModel` (one-hot input), plus
what small-data language models need: an input embedding, tied input/output weights, locked dropout
and weight dropout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models.state import State


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, the same at every time step (Gal & Ghahramani 2016):
    the recurrent layer sees a consistent subset of features instead of fresh noise each step."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """x [B, T, D]: one Bernoulli mask per row, broadcast over T."""
        if not self.training or not self.p:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class RecurrentLM(nn.Module):
    """Input (one-hot, or an embedding of `embedding_dim`) -> library recurrent layers (batch first) ->
    dense output layer over the vocabulary, whose weight is the embedding's when `tie_weights`
    (Press & Wolf 2017; a projection bridges num_hiddens to embedding_dim when they differ)."""

    def __init__(
        self,
        layer: type[nn.RNNBase],
        vocab_size: int,
        num_hiddens: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        embedding_dim: int | None = None,
        tie_weights: bool = False,
        embedding_dropout: float = 0.0,
        output_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        token_dropout: float = 0.0,
    ):
        super().__init__()
        dropouts = dict(
            dropout=dropout,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout,
            weight_dropout=weight_dropout,
            token_dropout=token_dropout,
        )
        for name, p in dropouts.items():
            if not 0 <= p < 1:
                raise LyricsError(f"model.{name}={p} must lie in [0, 1) (a share of units dropped).")
        if embedding_dim is not None and embedding_dim < 1:  # 0 would silently mean one-hot
            raise LyricsError(
                f"model.embedding_dim={embedding_dim} must be at least 1, or null for the book's one-hot input."
            )
        if tie_weights and embedding_dim is None:
            raise LyricsError("model.tie_weights=true needs an input embedding: set model.embedding_dim.")
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if embedding_dim else None
        inputs = embedding_dim or vocab_size
        self.rnn = layer(inputs, num_hiddens, num_layers, batch_first=True, dropout=dropout)
        self.embedding_dropout, self.output_dropout = (
            LockedDropout(embedding_dropout),
            LockedDropout(output_dropout),
        )
        self.weight_dropout, self.token_dropout = weight_dropout, token_dropout
        width = embedding_dim if tie_weights else num_hiddens
        self.project = nn.Linear(num_hiddens, width) if width != num_hiddens else nn.Identity()
        self.dense = nn.Linear(width, vocab_size)
        if tie_weights:
            self.dense.weight = self.embedding.weight

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs [B, T] of indices -> logits [B, T, V] and the last state (LSTM: (h, c)); a state of
        None starts from zeros, as nn.RNN/GRU/LSTM do."""
        if self.embedding is None:
            x = F.one_hot(inputs, self.vocab_size).to(self.dense.weight.dtype)
        elif self.training and self.token_dropout:
            # Whole characters dropped from the input for this batch (AWD-LSTM's embedding dropout).
            keep = self.embedding.weight.new_empty(self.vocab_size, 1).bernoulli_(1 - self.token_dropout)
            x = F.embedding(inputs, self.embedding.weight * keep / (1 - self.token_dropout))
        else:
            x = self.embedding(inputs)
        x = self.embedding_dropout(x)
        if self.training and self.weight_dropout:
            # DropConnect on the hidden-to-hidden weights (AWD-LSTM, Merity et al. 2018): one mask per
            # batch on the recurrent connections, which ordinary dropout must leave alone.
            dropped = {
                name: F.dropout(getattr(self.rnn, name), self.weight_dropout)
                for name in self.rnn._flat_weights_names
                if name.startswith("weight_hh")
            }
            outputs, state = torch.func.functional_call(self.rnn, dropped, (x, state))
        else:
            outputs, state = self.rnn(x, state)
        return self.dense(self.project(self.output_dropout(outputs))), state

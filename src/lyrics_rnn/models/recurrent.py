"""`nn.RNN` / `nn.GRU` / `nn.LSTM` with a linear head: the notebook's `RNNModel` (one-hot input), plus
what small-data language models need: an input embedding, tied input/output weights, locked dropout
and weight dropout."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lyrics_rnn.models.config import EmbeddedConfig
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


def embed(embedding: nn.Embedding, inputs: Tensor, token_dropout: float = 0.0) -> Tensor:
    """The inputs' embeddings; with `token_dropout`, whole characters dropped for this batch (AWD-LSTM's
    embedding dropout: a dropped character is zero wherever it occurs, the rest scaled up)."""
    if not token_dropout:
        return embedding(inputs)
    keep = embedding.weight.new_empty(embedding.num_embeddings, 1).bernoulli_(1 - token_dropout)
    return F.embedding(inputs, embedding.weight * keep / (1 - token_dropout))


class RecurrentLM(nn.Module):
    """Input (one-hot, or an embedding of `embedding_dim`) -> library recurrent layers (batch first) ->
    dense output layer over the vocabulary, whose weight is the embedding's when `tie_weights`
    (Press & Wolf 2017; a projection bridges num_hiddens to embedding_dim when they differ)."""

    Config = EmbeddedConfig
    LAYERS: ClassVar[dict[str, type[nn.RNNBase]]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

    def __init__(self, vocab_size: int, config: EmbeddedConfig) -> None:
        super().__init__()
        self.vocab_size, embedding_dim, num_hiddens = vocab_size, config.embedding_dim, config.num_hiddens
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if embedding_dim else None
        inputs = embedding_dim or vocab_size
        layer = self.LAYERS[config.cell]
        self.rnn = layer(inputs, num_hiddens, config.num_layers, batch_first=True, dropout=config.dropout)
        self.embedding_dropout = LockedDropout(config.embedding_dropout)
        self.output_dropout = LockedDropout(config.output_dropout)
        self.weight_dropout, self.token_dropout = config.weight_dropout, config.token_dropout
        width = embedding_dim if config.tie_weights else num_hiddens
        self.project = nn.Linear(num_hiddens, width) if width != num_hiddens else nn.Identity()
        self.dense = nn.Linear(width, vocab_size)
        if config.tie_weights:
            self.dense.weight = self.embedding.weight

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs [B, T] of indices -> logits [B, T, V] and the last state (LSTM: (h, c)); a state of
        None starts from zeros, as nn.RNN/GRU/LSTM do."""
        if self.embedding is None:
            x = F.one_hot(inputs, self.vocab_size).to(self.dense.weight.dtype)
        else:
            x = embed(self.embedding, inputs, self.token_dropout if self.training else 0.0)
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

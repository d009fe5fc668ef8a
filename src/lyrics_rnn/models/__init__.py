"""The networks. All share `forward(X [B, T], state) -> (logits [B, T, V], state)`; state None = zeros.

Adding a network: its module (a class with a `Config` dataclass and `__init__(vocab_size, config)`),
a line in NETWORKS, and a YAML file in conf/model/."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from torch import nn

from lyrics_rnn.errors import LyricsError
from lyrics_rnn.models.config import EmbeddedConfig, NetworkConfig
from lyrics_rnn.models.ensemble import Ensemble
from lyrics_rnn.models.recurrent import RecurrentLM
from lyrics_rnn.models.scan import ScanLM
from lyrics_rnn.models.scratch import ScratchGRU, ScratchLSTM, ScratchRNN
from lyrics_rnn.models.state import State, detach_state
from lyrics_rnn.models.transformer import TransformerLM

# model.cell -> the network class; its Config says which settings it takes.
NETWORKS: dict[str, type[nn.Module]] = {
    "scratch": ScratchRNN,
    "scratch_gru": ScratchGRU,
    "scratch_lstm": ScratchLSTM,
    "rnn": RecurrentLM,
    "gru": RecurrentLM,
    "lstm": RecurrentLM,
    "mingru": ScanLM,
    "minlstm": ScanLM,
    "transformer": TransformerLM,
}


def config_class(cell: str) -> type[NetworkConfig]:
    if cell not in NETWORKS:
        raise LyricsError(f"unknown model.cell={cell!r}; choose one of {list(NETWORKS)}.")
    return NETWORKS[cell].Config


def network_config(**settings: Any) -> NetworkConfig:
    """The settings of a network, checked: `cell` names its family, whose Config takes the rest."""
    config = config_class(settings.get("cell", NetworkConfig.cell))
    names = [field.name for field in dataclasses.fields(config)]
    unknown = sorted(settings.keys() - set(names))
    if unknown:
        raise LyricsError(
            f"model.{unknown[0]} is not a setting of the {settings['cell']} network (it takes {', '.join(names)})."
        )
    return config(**settings)


def known_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` less those its cell's family does not take that hold the recurrent family's default:
    checkpoints and run configs of version 0.1 list every setting of `EmbeddedConfig`, whatever the
    cell. Anything else is left for the family's Config to refuse."""
    names = {
        field.name for field in dataclasses.fields(config_class(settings.get("cell", NetworkConfig.cell)))
    }
    written = {(field.name, field.default) for field in dataclasses.fields(EmbeddedConfig)}
    return {name: value for name, value in settings.items() if name in names or (name, value) not in written}


def build_network(config: NetworkConfig, vocab_size: int) -> nn.Module:
    """The network of `config`; with `ensemble` K > 1, K of them, each with its own initial weights."""
    make = NETWORKS[config.cell]
    if config.ensemble > 1:
        return Ensemble([make(vocab_size, config) for _ in range(config.ensemble)])
    return make(vocab_size, config)


__all__ = [
    "NETWORKS",
    "Ensemble",
    "NetworkConfig",
    "State",
    "build_network",
    "config_class",
    "detach_state",
    "known_settings",
    "network_config",
]

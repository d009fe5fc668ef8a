"""What a network's units track: the activation of every unit of its carried state after each character
(Karpathy et al. 2015, "Visualizing and Understanding Recurrent Networks"), and the units that best follow
simple properties of the text, so that a reader finds the interpretable ones quickly.

A "layer" is one tensor of the state, named by its place in it: `state 1` is the state itself or its
first part (an LSTM's h, a block network's first block), `state 1.2` the second part of that (an LSTM
block's c, a Transformer block's values), `layer k` a stacked library layer. The Transformer's state is
its key/value memory, of which the newest character's entry is taken."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lyrics_rnn.models import State

REPEAT = 4  # a character is "inside a repeat" when the REPEAT characters ending at it occurred before


def state_layers(state: State, path: tuple[int, ...] = ()) -> dict[str, Tensor]:
    """The state of the first row of a batch as named vectors: one entry per tensor (and per layer of a
    stacked one)."""
    if isinstance(state, tuple):
        layers: dict[str, Tensor] = {}
        for index, part in enumerate(state, start=1):
            layers |= state_layers(part, (*path, index) if len(state) > 1 else path)
        return layers
    name = "state " + ".".join(map(str, path or (1,)))
    if state.dim() == 3:  # [layers, B, H] of nn.RNN / GRU / LSTM
        return {f"{name}, layer {k}": layer[0] for k, layer in enumerate(state, start=1)}
    if state.dim() == 4:  # [B, heads, memory, D / heads]: the newest character's entry
        return {name: state[0, :, -1].flatten()}
    return {name: state[0]}


@torch.no_grad()
def activations(net: nn.Module, ids: Tensor) -> dict[str, np.ndarray]:
    """Every layer's units after each character, [N, units] per layer name, stepping one character at a
    time so that the values are exactly the state the network carries."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    state, steps = None, []
    try:
        for char in ids.tolist():
            _, state = net(torch.tensor([[char]], device=device), state)
            steps.append({name: vector.float().cpu() for name, vector in state_layers(state).items()})
    finally:
        net.train(was_training)
    return {name: torch.stack([step[name] for step in steps]).numpy() for name in steps[0]}


def text_properties(text: str) -> dict[str, np.ndarray]:
    """Per character: its position within the line (characters since the last space or line break:
    the corpus writes line breaks as spaces), whether it is a space or line break, and whether the
    REPEAT characters ending at it occurred earlier in the text."""
    position, positions, breaks, repeats, seen = 0, [], [], [], set()
    for i, char in enumerate(text):
        position = 0 if char in " \n" else position + 1
        positions.append(position)
        breaks.append(char in " \n")
        gram = text[i - REPEAT + 1 : i + 1] if i >= REPEAT - 1 else None
        repeats.append(gram in seen)
        if gram is not None:
            seen.add(gram)
    return {
        "position in line": np.array(positions, dtype=float),
        "space or line break": np.array(breaks, dtype=float),
        "inside a repeat": np.array(repeats, dtype=float),
    }


@dataclass
class Tracker:
    """A unit and how closely it follows a property (Pearson's r over the text)."""

    prop: str
    layer: str
    unit: int
    r: float


def correlations(units: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Pearson's r of every column of units [N, D] with values [N]; 0 where either is constant."""
    units = units - units.mean(0)
    values = values - values.mean()
    scale = np.sqrt((units**2).sum(0) * (values**2).sum())
    return np.divide(units.T @ values, scale, out=np.zeros(units.shape[1]), where=scale > 0)


def rank_units(layers: dict[str, np.ndarray], text: str, top: int = 5) -> list[Tracker]:
    """For each property of `text_properties`, the `top` units of all layers with the largest |r|."""
    trackers = []
    for prop, values in text_properties(text).items():
        found = [
            Tracker(prop, layer, int(unit), float(r))
            for layer, units in layers.items()
            for unit, r in enumerate(correlations(units.astype(float), values))
        ]
        trackers += sorted(found, key=lambda tracker: -abs(tracker.r))[:top]
    return trackers

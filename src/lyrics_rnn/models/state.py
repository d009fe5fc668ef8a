"""The recurrent state every network carries between batches, and cutting its graph."""

from __future__ import annotations

from torch import Tensor

State = Tensor | tuple  # H, (H, C) for an LSTM, or a tuple of the members' states for an ensemble


def detach_state(state: State) -> State:
    """Cut the graph at a batch boundary, keeping the values (truncated backpropagation through time)."""
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(part) for part in state)

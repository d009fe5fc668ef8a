"""The recurrent state every network carries between batches, and cutting its graph."""

from __future__ import annotations

from torch import Tensor

State = Tensor | tuple[Tensor, Tensor]  # H, or (H, C) for an LSTM


def detach_state(state: State) -> State:
    """Cut the graph at a batch boundary, keeping the values (truncated backpropagation through time)."""
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(part.detach() for part in state)

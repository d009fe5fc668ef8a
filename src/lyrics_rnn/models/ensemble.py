"""Several networks of one kind trained side by side and scored as one model: the average of their
probabilities. Independently trained members err differently, so their average predicts unseen text
better than any one of them (Lakshminarayanan et al. 2017); one checkpoint holds them all."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lyrics_rnn.models.state import State


class Ensemble(nn.Module):
    """In training, the members' logits stacked along the batch ([K * B, T, V]): each member is scored
    against the batch's targets on its own, so each learns alone (training the average instead lets
    members lean on one another). Otherwise log of the mean probability ([B, T, V]), which softmax,
    argmax and sampling read as logits."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        states = state if state is not None else (None,) * len(self.members)
        outputs = [member(inputs, part) for member, part in zip(self.members, states, strict=True)]
        logits = [member_logits for member_logits, _ in outputs]
        new_state = tuple(member_state for _, member_state in outputs)
        if self.training:
            return torch.cat(logits), new_state
        log_probs = torch.stack(logits).float().log_softmax(-1)
        return log_probs.logsumexp(0) - math.log(len(self.members)), new_state

"""Several networks of one kind trained side by side and scored as one model: the average of their
probabilities. Independently trained members err differently, so their average predicts unseen text
better than any one of them (Lakshminarayanan et al. 2017); one checkpoint holds them all."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lyrics_rnn.models.state import State


class Ensemble(nn.Module):
    """In training, the members' logits stacked along the batch ([K * B, T, V]): each member is scored
    against the batch's targets on its own, so each learns alone (training the average instead lets
    members lean on one another). Otherwise log of the mean probability ([B, T, V]), which softmax,
    argmax and sampling read as logits; with `weights`, their weighted mean (e.g. fitted on validation,
    where members of unequal strength are mixed)."""

    def __init__(self, members: list[nn.Module], weights: Tensor | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        weights = torch.full((len(members),), 1 / len(members)) if weights is None else weights
        # Not persistent: checkpoints of model.ensemble=K hold members only.
        self.register_buffer("log_weights", weights.double().log().float(), persistent=False)

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        states = state if state is not None else (None,) * len(self.members)
        outputs = [member(inputs, part) for member, part in zip(self.members, states, strict=True)]
        logits = [member_logits for member_logits, _ in outputs]
        new_state = tuple(member_state for _, member_state in outputs)
        if self.training:
            return torch.cat(logits), new_state
        log_probs = torch.stack(logits).float().log_softmax(-1)
        return (log_probs + self.log_weights[:, None, None, None]).logsumexp(0), new_state

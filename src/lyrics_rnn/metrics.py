"""An epoch mean that counts every character once, over all devices."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class WeightedMean(Metric):
    """A sum of values over a sum of weights, accumulated in float64 over an epoch and all devices: the
    loss per scored character, the mean gradient norm.

    (torchmetrics' MeanMetric with nan_strategy="disable" ignores its weights, so batches of different
    sizes would count alike; a non-finite value must show in the mean, not be dropped from it; and its
    update takes ~7 tensor ops, this one two.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, total: Tensor, count: Tensor | int) -> None:
        self.total += total  # in place, so in float64
        self.count += count

    def compute(self) -> Tensor:
        return (self.total / self.count).float()

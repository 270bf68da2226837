"""Labeled-only baseline: cross-entropy on the labeled batch, the same trainer and budget."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput


class Supervised(Algorithm):
    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        loss = F.cross_entropy(model(batch.x).float(), batch.y)
        return StepOutput(loss=loss, loss_x=loss)

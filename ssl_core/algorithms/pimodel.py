"""Π-model (Laine & Aila 2017, arXiv:1610.02242; Rasmus et al. 2015), as USB's ``pimodel``.

Two weak views of each unlabeled image should give the same prediction: loss =
CE(x, y) + λu·w(t)·mean((softmax(z₂) − softmax(z₁))²), the mean over rows and classes. As USB,
the first view's probabilities are the target (no gradient through them), only the labeled pass
updates BatchNorm's running statistics, and w(t) ramps linearly over the first
``unlabeled_warmup`` share of the run (USB 0.4; the paper uses a Gaussian ramp over 80 epochs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, frozen_bn_stats
from ssl_core.losses import mse_probs


class PiModel(Algorithm):
    def targets(self, batch: Batch, model: nn.Module) -> torch.Tensor:
        """The first view's probabilities, without gradient; Mean Teacher overrides this."""
        with torch.no_grad(), frozen_bn_stats(model):
            return F.softmax(model(batch.u_views[0]).float(), dim=1)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x = model(batch.x)
        targets = self.targets(batch, model)
        with frozen_bn_stats(model):
            logits_u = model(batch.u_views[1])

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        loss_u = mse_probs(logits_u, targets)
        weight = self.hp.unlabeled_weight * self.linear_rampup(step, self.hp.unlabeled_warmup)
        return StepOutput(
            loss=loss_x + weight * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=weight,
            pseudo_labels=targets.argmax(1),  # no mask: every sample counts
        )  # fmt: skip

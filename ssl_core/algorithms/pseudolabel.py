"""Pseudo-Label (Lee 2013), as USB's ``pseudolabel``.

The unlabeled batch (one weak view) is trained towards its own argmax where the confidence
reaches τ (USB's 0.95; τ = 0 is the paper, every prediction). Only the labeled pass updates
BatchNorm's running statistics (USB's ``bn_controller``). λu ramps up linearly over the first
``unlabeled_warmup`` share of the run (USB: 0.4). Loss = CE(x, y) + λu·w(t)·mean(mask·CE(u, ŷ)).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, frozen_bn_stats
from ssl_core.losses import masked_cross_entropy
from ssl_core.thresholds import fixed_mask


class PseudoLabel(Algorithm):
    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        (u_weak,) = batch.u_views
        logits_x = model(batch.x)
        with frozen_bn_stats(model):
            logits_u = model(u_weak)

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        probs = F.softmax(logits_u.detach().float(), dim=1)
        mask, pseudo_labels = fixed_mask(probs, self.hp.threshold)
        # The targets carry no gradient; the prediction they came from does (as the paper).
        loss_u = masked_cross_entropy(logits_u, pseudo_labels, mask)
        weight = self.hp.unlabeled_weight * self.linear_rampup(step, self.hp.unlabeled_warmup)
        return StepOutput(
            loss=loss_x + weight * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=weight,
            pseudo_labels=pseudo_labels, mask=mask,
        )  # fmt: skip

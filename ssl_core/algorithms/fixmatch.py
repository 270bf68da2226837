"""FixMatch (Sohn et al. 2020, arXiv:2001.07685).

One forward over [labeled (weak); unlabeled weak; unlabeled strong] so BatchNorm sees all of it.
Hard pseudo-labels from the weak view where the confidence reaches the threshold τ; the strong
view is trained towards them. Loss = CE(x, y) + λu · mean(mask · CE(strong, pseudo-label)), the
mean taken over the whole unlabeled batch.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, labeled_weak_strong
from ssl_core.losses import masked_cross_entropy
from ssl_core.thresholds import fixed_mask


class FixMatch(Algorithm):
    def mask(self, probs: Tensor, u_index: Tensor) -> tuple[Tensor, Tensor]:
        """Which pseudo-labels to trust; FlexMatch overrides only this."""
        return fixed_mask(probs, self.hp.threshold)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        logits_x, logits_weak, logits_strong = labeled_weak_strong(model, batch)

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        probs = F.softmax(logits_weak.detach().float(), dim=1)
        mask, pseudo_labels = self.mask(probs, batch.u_index)
        loss_u = masked_cross_entropy(logits_strong, pseudo_labels, mask)
        weight = self.hp.unlabeled_weight
        return StepOutput(
            loss=loss_x + weight * loss_u, loss_x=loss_x, loss_u=loss_u, unlabeled_weight=weight,
            pseudo_labels=pseudo_labels, mask=mask,
        )  # fmt: skip

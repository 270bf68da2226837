"""The torch half: one ``step`` that says how the loss is made. The trainer does the rest,
including the mask ratio, pseudo-label accuracy and per-class shares from what ``step`` returns."""

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput


class PseudoLabelPlus(Algorithm):
    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        b = batch.x.shape[0]
        view_a, view_b = batch.u_views  # two weak views, as declared in ENTRY.views
        logits = model(torch.cat([batch.x, view_a, view_b]))
        logits_x = logits[:b]
        logits_a, logits_b = logits[b:].chunk(2)

        loss_x = F.cross_entropy(logits_x.float(), batch.y)
        probs = F.softmax(logits_a.detach().float(), dim=1)
        confidence, pseudo_labels = probs.max(dim=1)
        mask = (confidence >= self.hp.threshold).float()
        weights = mask * confidence if self.hp.confidence_weighting else mask
        per_sample = F.cross_entropy(logits_b.float(), pseudo_labels, reduction="none")
        loss_u = (weights * per_sample).mean()  # over the whole unlabeled batch
        weight = self.hp.unlabeled_weight
        return StepOutput(
            loss=loss_x + weight * loss_u,
            loss_x=loss_x,
            loss_u=loss_u,
            unlabeled_weight=weight,
            pseudo_labels=pseudo_labels,
            mask=mask,  # which pseudo-labels were used (train/mask_ratio, its accuracy)
        )

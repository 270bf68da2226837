"""The torch half: one ``step`` that says how the loss is made. The trainer does the rest."""

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, pseudo_label_stats


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
        loss = loss_x + self.hp.unlabeled_weight * loss_u

        used, correct = pseudo_label_stats(mask, pseudo_labels, batch.u_true)
        weight = torch.full((), self.hp.unlabeled_weight, device=self.device)
        return StepOutput(loss, loss_x.detach(), loss_u.detach(), weight, used, correct, len(probs))

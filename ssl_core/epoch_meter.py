"""An epoch's training metrics from its steps' facts, summed on the device (one host sync).

Algorithms hand over their losses, the unlabeled weight, and — where they make pseudo-labels —
the pseudo-labels and the mask; the statistics of those are made here, once, for every method.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_core.algorithms.base import Batch, StepOutput
from ssl_core.contract.metrics import (
    MASK_RATIO,
    PSEUDO_LABEL_ACC,
    PSEUDO_LABEL_SHARE_PREFIX,
    TRAIN_LOSS,
    TRAIN_LOSS_U,
    TRAIN_LOSS_X,
    UNSUP_WEIGHT,
)


def used_and_correct(
    mask: Tensor, pseudo_labels: Tensor, true: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(pseudo-labels used: the mask's sum, those equal to the hidden true label among them);
    unknown true labels (−1, STL-10) count as wrong, no true labels at all as none correct."""
    used = mask.sum()
    if true is None:
        return used, torch.zeros_like(used)
    return used, (mask * (pseudo_labels == true).float()).sum()


class EpochMeter:
    """Sums step outputs on the device; ``metrics`` and ``class_shares`` sync once."""

    def __init__(self, num_classes: int, device: torch.device) -> None:
        self.device = device
        self.sums = torch.zeros(6, device=device)
        # Mask weight of the admitted pseudo-labels per class, for
        # ``train/pseudo_label_share/<class>``: a class the model stops predicting shows there
        # before it shows in the accuracy (docs/STUDY_fashion_mnist_40.md).
        self.class_counts = torch.zeros(num_classes, device=device)
        self.steps = 0
        self.unlabeled = 0

    def add(self, out: StepOutput, batch: Batch) -> None:
        zero = torch.zeros((), device=self.device)
        used = correct = zero
        if out.pseudo_labels is not None:
            labels = out.pseudo_labels
            mask = (
                torch.ones(len(labels), device=self.device)  # no mask: every sample counts
                if out.mask is None
                else out.mask.detach().float()
            )
            used, correct = used_and_correct(mask, labels, batch.u_true)
            # This step's counts first, then the sum: float32 adding ones one by one would stop
            # counting at 2^24 in a long epoch; a step's few hundred are exact.
            self.class_counts += torch.zeros_like(self.class_counts).index_add_(0, labels, mask)
        weight = out.unlabeled_weight
        if not isinstance(weight, Tensor):
            # torch.full, not torch.tensor: a copy from the host would wait for the GPU.
            weight = torch.full((), float(weight), device=self.device)
        loss_u = zero if out.loss_u is None else out.loss_u
        values = (out.loss, out.loss_x, loss_u, weight, used, correct)
        self.sums += torch.stack([v.detach().float() for v in values])
        self.steps += 1
        self.unlabeled += batch.num_unlabeled

    def metrics(self) -> dict[str, float]:
        loss, loss_x, loss_u, weight, used, correct = self.sums.tolist()
        n = max(self.steps, 1)
        return {
            TRAIN_LOSS: loss / n,
            TRAIN_LOSS_X: loss_x / n,
            TRAIN_LOSS_U: loss_u / n,
            UNSUP_WEIGHT: weight / n,
            MASK_RATIO: used / self.unlabeled if self.unlabeled else 0.0,
            PSEUDO_LABEL_ACC: 100.0 * correct / used if used else 0.0,
        }

    def class_shares(self) -> dict[str, float]:
        """The share of the epoch's admitted pseudo-labels naming each class (all 0 when none
        was admitted)."""
        counts, total = self.class_counts, self.class_counts.sum()
        shares = torch.where(total > 0, counts / total.clamp_min(1e-12), 0.0).tolist()
        return {f"{PSEUDO_LABEL_SHARE_PREFIX}{c}": s for c, s in enumerate(shares)}

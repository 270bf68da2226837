"""Losses; each returns a mean over the whole batch."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def soft_cross_entropy(logits: Tensor, soft_targets: Tensor) -> Tensor:
    """Cross-entropy against probability targets: mean over rows of −Σ t·log softmax(z)."""
    return -(soft_targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def mse_probs(logits: Tensor, targets: Tensor) -> Tensor:
    """MixMatch's unlabeled loss: mean over rows and classes of (softmax(z) − t)²."""
    return ((F.softmax(logits.float(), dim=1) - targets) ** 2).mean()


def masked_cross_entropy(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Σ mask·CE / batch size: masked rows count as 0 but stay in the denominator (μB)."""
    per_row = F.cross_entropy(logits.float(), labels, reduction="none")
    return (per_row * mask).mean()


def masked_soft_cross_entropy(logits: Tensor, soft_targets: Tensor, mask: Tensor) -> Tensor:
    """Σ mask·(−Σ t·log softmax(z)) / batch size: UDA's unlabeled loss (masked rows count 0)."""
    per_row = -(soft_targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1)
    return (per_row * mask).mean()

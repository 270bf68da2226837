"""Confidence masks: FixMatch's fixed threshold and FlexMatch's curriculum thresholds."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

MAPPINGS = {
    "convex": lambda beta: beta / (2.0 - beta),
    "linear": lambda beta: beta,
    "concave": lambda beta: torch.log(beta + 1.0) / math.log(2.0),
}


def fixed_mask(probs: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """mask = max p ≥ τ (as float 0/1), pseudo-labels = argmax p."""
    confidence, pseudo_labels = probs.max(dim=1)
    return (confidence >= threshold).float(), pseudo_labels


class FlexThreshold(nn.Module):
    """FlexMatch's per-class thresholds T_c = τ · M(β_c).

    For every unlabeled index it remembers the class it was last predicted as with confidence
    at least τ (−1 = never; ≥ as USB and TorchSSL); σ_c counts indices per class and β_c = σ_c / max(max_c σ_c, σ_−1) with
    warm-up (σ_c / max_c σ_c without). All state stays on the device: no host sync per step;
    it is the buffer ``selected``, so ``state_dict()`` / ``load_state_dict()`` carry it.
    """

    def __init__(
        self,
        num_classes: int,
        num_unlabeled: int,
        threshold: float,
        mapping: str = "convex",
        warmup: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        if mapping not in MAPPINGS:
            raise ValueError(f"mapping: unknown {mapping!r}; valid: {', '.join(MAPPINGS)}")
        super().__init__()
        self.num_classes = num_classes
        self.threshold = threshold
        self.mapping = mapping
        self.warmup = warmup
        self.register_buffer(
            "selected", torch.full((num_unlabeled,), -1, dtype=torch.long, device=device)
        )

    def update(self, indices: Tensor, probs: Tensor) -> None:
        confidence, predicted = probs.max(dim=1)
        # torch.where instead of boolean indexing keeps this free of device→host syncs.
        self.selected[indices] = torch.where(
            confidence >= self.threshold, predicted, self.selected[indices]
        )

    def class_thresholds(self) -> Tensor:
        counts = torch.zeros(self.num_classes + 1, device=self.selected.device)
        counts.scatter_add_(
            0, self.selected + 1, torch.ones_like(self.selected, dtype=counts.dtype)
        )
        unused, sigma = counts[0], counts[1:]
        denominator = torch.maximum(sigma.max(), unused) if self.warmup else sigma.max()
        beta = sigma / denominator.clamp(min=1.0)
        return self.threshold * MAPPINGS[self.mapping](beta)

    def unseen_ratio(self) -> Tensor:
        """Share of unlabeled indices never yet predicted with confidence ≥ τ (σ_−1 / N)."""
        return (self.selected < 0).float().mean()

    def mask(self, probs: Tensor) -> tuple[Tensor, Tensor]:
        confidence, pseudo_labels = probs.max(dim=1)
        return (confidence >= self.class_thresholds()[pseudo_labels]).float(), pseudo_labels

"""What an algorithm is: given a model and a batch, produce a loss and its diagnostics.

The trainer owns everything else (backward, optimiser, EMA, AMP, evaluation, checkpoints).
An algorithm declares the unlabeled views it needs; the trainer builds them on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ssl_core.contract.metrics import PSEUDO_LABEL_SHARE_PREFIX
from ssl_core.contract.spec import RunSpec
from ssl_core.registry import algorithm_class


@dataclass
class Batch:
    x: Tensor  # weak-augmented labeled images, normalised (B, C, H, W)
    y: Tensor  # their labels (B,)
    u_views: list[Tensor] = field(default_factory=list)  # the declared views of the unlabeled batch
    u_index: Tensor | None = None  # positions in the unlabeled split
    u_true: Tensor | None = None  # hidden true labels: diagnostics only, never in a loss


@dataclass
class StepOutput:
    """A step's loss and diagnostics, all device tensors (summed per epoch, synced once)."""

    loss: Tensor
    loss_x: Tensor
    loss_u: Tensor
    unsup_weight: Tensor
    num_used: Tensor  # unlabeled samples whose pseudo-label entered the loss (mask sum)
    num_correct: Tensor  # of those, how many pseudo-labels equal the hidden true label
    num_unlabeled: int  # unlabeled samples in the batch


class Algorithm:
    """Base class. Subclasses implement ``step``; the views come from the catalog entry."""

    def __init__(self, spec: RunSpec, num_classes: int, num_unlabeled: int, device: torch.device):
        self.spec = spec
        # "weak" / "strong", one entry per unlabeled view (declared torch-free in the catalog)
        self.views: tuple[str, ...] = spec.unlabeled_views
        self.hp = spec.hparams
        self.num_classes = num_classes
        self.device = device
        self.total_steps = spec.total_steps  # for ramp-ups given as a share of the run
        # The EMA of the weights (what evaluation uses), set by the trainer: Mean Teacher's
        # teacher. Algorithms must not change it; the trainer updates it after every step.
        self.teacher: nn.Module | None = None
        # Mask weight of the epoch's admitted pseudo-labels per class, summed on the device by
        # ``pseudo_label_stats`` and turned into shares (and reset) by ``epoch_metrics``.
        self.pseudo_label_counts = torch.zeros(num_classes, device=device)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        raise NotImplementedError

    def extra_modules(self, model: nn.Module) -> nn.Module | None:
        """Layers this algorithm trains beside the net (ReMixMatch's rotation head), built for
        ``model``; the trainer optimises them, and ``state_dict`` must save them."""
        return None

    def pseudo_label_stats(
        self, mask: Tensor, pseudo_labels: Tensor, true: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """``pseudo_label_stats`` (samples used, correct among them), and the used pseudo-labels
        counted per class for ``train/pseudo_label_share/<class>``: a class the model stops
        predicting shows there before it shows in the accuracy (docs/STUDY_fashion_mnist_40.md).
        """
        # This step's counts first, then the sum: float32 adding ones one by one would stop
        # counting at 2^24 in a long epoch; a step's few hundred are exact.
        counts = torch.zeros_like(self.pseudo_label_counts)
        self.pseudo_label_counts += counts.index_add_(0, pseudo_labels, mask.detach().float())
        return pseudo_label_stats(mask, pseudo_labels, true)

    def epoch_metrics(self) -> dict[str, Tensor]:
        """Extra per-epoch metrics: the share of the epoch's admitted pseudo-labels naming each
        class (all 0 when none was admitted), then a fresh count for the next epoch. Subclasses
        add theirs to this (FlexMatch's class thresholds). The trainer drops the shares of an
        algorithm that does not declare them."""
        counts, total = self.pseudo_label_counts, self.pseudo_label_counts.sum()
        shares = torch.where(total > 0, counts / total.clamp_min(1e-12), 0.0)
        self.pseudo_label_counts = torch.zeros_like(counts)
        return {f"{PSEUDO_LABEL_SHARE_PREFIX}{c}": shares[c] for c in range(self.num_classes)}

    def state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        pass

    def _zero(self) -> Tensor:
        return torch.zeros((), device=self.device)

    def _full(self, value: float) -> Tensor:
        # torch.full, not torch.tensor: a copy from the host would wait for the GPU each step.
        return torch.full((), value, device=self.device)

    def linear_rampup(self, step: int, share: float) -> float:
        """0 → 1 linearly over the first ``share`` of the run's steps (USB's ``unsup_warm_up``);
        1 throughout when ``share`` is 0."""
        if share <= 0:
            return 1.0
        return min(step / (share * self.total_steps), 1.0)


def labeled_weak_strong(model: nn.Module, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """Logits of the labeled, weak and strong images from one forward pass over all of them
    (BatchNorm sees the three together, as in FixMatch and USB): (B, C), (μB, C), (μB, C)."""
    b = batch.x.shape[0]
    u_weak, u_strong = batch.u_views
    logits = model(torch.cat([batch.x, u_weak, u_strong]))  # (B + 2μB, classes)
    logits_weak, logits_strong = logits[b:].chunk(2)
    return logits[:b], logits_weak, logits_strong


def pseudo_label_stats(
    mask: Tensor, pseudo_labels: Tensor, true: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(samples used, correct among them); unknown true labels (−1, STL-10) count as wrong."""
    used = mask.sum()
    if true is None:
        return used, torch.zeros_like(used)
    return used, (mask * (pseudo_labels == true).float()).sum()


@contextmanager
def frozen_bn_stats(model: nn.Module, frozen: bool = True) -> Iterator[None]:
    """Forward passes inside still normalise with their batch's statistics, but BatchNorm's
    running statistics (what evaluation uses) come out as they went in: USB's ``bn_controller``.
    With ``frozen`` False it does nothing.

    The passes update copies that are then dropped: restoring the buffers in place instead would
    change tensors autograd saved for an earlier pass's backward.
    """
    if not frozen:
        yield
        return
    kept = [
        (bn, dict(bn.named_buffers(recurse=False)))
        for bn in model.modules()
        if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.track_running_stats
    ]
    for bn, buffers in kept:
        for name, buffer in buffers.items():
            setattr(bn, name, buffer.clone())
    try:
        yield
    finally:
        for bn, buffers in kept:
            for name, buffer in buffers.items():
                setattr(bn, name, buffer)


def build_algorithm(
    spec: RunSpec, num_classes: int, num_unlabeled: int, device: torch.device
) -> Algorithm:
    return algorithm_class(spec.algorithm)(spec, num_classes, num_unlabeled, device)

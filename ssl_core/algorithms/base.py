"""What an algorithm is: given a model and a batch, produce a loss and the facts behind it.

The trainer owns everything else (backward, optimiser, EMA, AMP, evaluation, checkpoints).
An algorithm declares the unlabeled views it needs; the trainer builds them on the device.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ssl_core.contract.spec import RunSpec
from ssl_core.registry import algorithm_class


@dataclass
class Batch:
    x: Tensor  # weak-augmented labeled images, normalised (B, C, H, W)
    y: Tensor  # their labels (B,)
    u_views: list[Tensor] = field(default_factory=list)  # the declared views of the unlabeled batch
    u_index: Tensor | None = None  # positions in the unlabeled split
    u_true: Tensor | None = None  # hidden true labels: diagnostics only, never in a loss

    @property
    def num_unlabeled(self) -> int:
        """Unlabeled images in the batch (each view holds all of them)."""
        return len(self.u_views[0]) if self.u_views else 0


# One message for every way code written for the earlier API meets this one, so a plugin's
# author reads what changed whichever old name their step reaches first.
API_CHANGED = (
    "an algorithm's step now returns StepOutput by keyword — StepOutput(loss=, loss_x=, "
    "loss_u=, unlabeled_weight=, pseudo_labels=, mask=) — and the trainer computes the mask "
    "ratio, pseudo-label accuracy and per-class shares from pseudo_labels and mask itself; "
    "pseudo_label_stats and the fields unsup_weight, num_used, num_correct and num_unlabeled "
    "are gone. State kept between steps goes in registered buffers or submodules (saved for "
    "you). See docs/ALGORITHMS.md, 'Bring your own algorithm'."
)
_OLD_FIELDS = {"unsup_weight", "num_used", "num_correct", "num_unlabeled"}


@dataclass(kw_only=True)
class StepOutput:
    """What a step did, as facts: the trainer backpropagates ``loss``, sums the rest on the
    device (one host sync per epoch) and derives the epoch's statistics from them."""

    loss: Tensor  # what the trainer minimises: every term with its weight
    loss_x: Tensor  # labeled loss
    loss_u: Tensor | None = None  # unlabeled loss before its weight; None: labels only
    unlabeled_weight: float | Tensor = 0.0  # the weight λu of loss_u this step, ramp included
    # The class each unlabeled image was trained towards (μB,), and how much its pseudo-label
    # counted in the loss (0/1, or a soft weight; None: all 1). Methods without pseudo-labels
    # leave both out and log no mask statistics.
    pseudo_labels: Tensor | None = None
    mask: Tensor | None = None

    def __new__(cls, *args: object, **kwargs: object) -> StepOutput:
        if args:
            raise TypeError(f"StepOutput takes keywords only ({len(args)} given by position): "
                            f"{API_CHANGED}")  # fmt: skip
        if old := sorted(_OLD_FIELDS & kwargs.keys()):
            raise TypeError(f"StepOutput has no field {', '.join(old)}: {API_CHANGED}")
        return super().__new__(cls)


class Algorithm(nn.Module):
    """Base class. Subclasses implement ``step``; the views come from the catalog entry.

    An ``nn.Module`` so that state kept between steps (thresholds, running estimates, extra
    layers) lives in registered buffers and submodules: the trainer saves and restores
    ``state_dict()`` for every algorithm alike.
    """

    def __init__(self, spec: RunSpec, num_classes: int, num_unlabeled: int, device: torch.device):
        super().__init__()
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

    def __setattr__(self, name: str, value: object) -> None:
        if name == "teacher":  # the trainer's EMA model: used here, never part of our state
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __getattr__(self, name: str) -> object:
        if name == "pseudo_label_stats":
            raise AttributeError(f"Algorithm.pseudo_label_stats: {API_CHANGED}")
        return super().__getattr__(name)

    def step(self, model: nn.Module, batch: Batch, step: int) -> StepOutput:
        raise NotImplementedError

    def extra_modules(self, model: nn.Module) -> nn.Module | None:
        """Layers this algorithm trains beside the net (ReMixMatch's rotation head), built for
        ``model``; the trainer optimises them. Assigned as attributes, they are saved with the
        algorithm's state."""
        return None

    def epoch_metrics(self) -> dict[str, Tensor]:
        """This algorithm's own per-epoch metrics (FlexMatch's class thresholds); the trainer
        adds the mask statistics and pseudo-label shares from the steps' outputs."""
        return {}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:  # noqa: ANN401 — what nn.Module returns
        """As ``nn.Module``'s, and a checkpoint from before the state lived in submodules loads
        too: its keys were the buffers' own names (``selected``, not ``thresholds.selected``)."""
        return super().load_state_dict(_with_module_prefixes(self, state_dict), strict, assign)

    def linear_rampup(self, step: int, share: float) -> float:
        """0 → 1 linearly over the first ``share`` of the run's steps (USB's ``unsup_warm_up``);
        1 throughout when ``share`` is 0."""
        if share <= 0:
            return 1.0
        return min(step / (share * self.total_steps), 1.0)


def _with_module_prefixes(module: nn.Module, state: Mapping[str, Any]) -> dict[str, Any]:
    """Keys of ``state`` that name no entry of ``module``'s state but end exactly one of them
    (after a dot) renamed to it; every other key kept as it is."""
    own = module.state_dict().keys()
    out = {}
    for key, value in state.items():
        matches = [name for name in own if name.endswith(f".{key}")]
        out[matches[0] if key not in own and len(matches) == 1 else key] = value
    return out


def labeled_weak_strong(model: nn.Module, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """Logits of the labeled, weak and strong images from one forward pass over all of them
    (BatchNorm sees the three together, as in FixMatch and USB): (B, C), (μB, C), (μB, C)."""
    b = batch.x.shape[0]
    u_weak, u_strong = batch.u_views
    logits = model(torch.cat([batch.x, u_weak, u_strong]))  # (B + 2μB, classes)
    logits_weak, logits_strong = logits[b:].chunk(2)
    return logits[:b], logits_weak, logits_strong


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


def __getattr__(name: str) -> object:
    # ``from ssl_core.algorithms.base import pseudo_label_stats`` in a plugin of the earlier API
    # fails with what changed (an ImportError, which ``from … import`` passes on as it is).
    if name == "pseudo_label_stats":
        raise ImportError(f"ssl_core.algorithms.base.pseudo_label_stats: {API_CHANGED}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_algorithm(
    spec: RunSpec, num_classes: int, num_unlabeled: int, device: torch.device
) -> Algorithm:
    return algorithm_class(spec.algorithm)(spec, num_classes, num_unlabeled, device)

"""Hand-built batches for algorithm tests: the model is the identity, so its input *is* its
logits, and targets, masks and losses can be worked out by hand (in the tests' comments)."""

from __future__ import annotations

import math

import torch

from ssl_core.algorithms.base import Algorithm, Batch, StepOutput, build_algorithm
from ssl_core.contract.spec import RunSpec
from ssl_core.epoch_meter import used_and_correct

CPU = torch.device("cpu")
LN = math.log
PROBS = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.2, 0.8]])


def make(name: str, **hparams) -> Algorithm:
    # 10 × 10 = 100 steps: a warm-up share of 0.4 is 40 steps.
    spec = RunSpec.model_validate(
        {"algorithm": name, "epochs": 10, "iters_per_epoch": 10, "hparams": hparams}
    )
    return build_algorithm(spec, num_classes=2, num_unlabeled=100, device=CPU)


def logits(*rows: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def batch(x, y, views, true=None) -> Batch:
    return Batch(x, torch.tensor(y), list(views), torch.arange(len(views[0])), torch.tensor(true))


def used_correct(out: StepOutput, b: Batch) -> tuple[float, float]:
    """What the trainer counts from a step's pseudo-labels: (used, correct among them)."""
    mask = torch.ones(len(out.pseudo_labels)) if out.mask is None else out.mask
    used, correct = used_and_correct(mask, out.pseudo_labels, b.u_true)
    return used.item(), correct.item()

"""Evaluation in batches of ``eval_batch_size`` (never one image at a time), no gradients."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.data import DeviceData


@torch.inference_mode()
def predict(model: nn.Module, data: DeviceData, images: Tensor, batch_size: int) -> Tensor:
    """Logits (N, classes) in float32 for uint8 images, batch by batch."""
    was_training = model.training
    model.eval()
    logits = [
        model(data.normalize(images[i : i + batch_size])).float()
        for i in range(0, len(images), batch_size)
    ]
    model.train(was_training)
    return torch.cat(logits)


def topk_accuracy(logits: Tensor, labels: Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return (top == labels[:, None]).any(dim=1).float().mean().item() * 100


@torch.inference_mode()
def evaluate(model: nn.Module, data: DeviceData, batch_size: int) -> dict[str, float]:
    """top-1 on the labeled set; loss, top-1 and top-5 on validation and test (percent)."""
    metrics: dict[str, float] = {}
    for name, (images, labels) in data.eval_sets().items():
        if len(images) == 0:
            continue
        logits = predict(model, data, images, batch_size)
        metrics[f"{name}/top1"] = topk_accuracy(logits, labels, 1)
        if name != "labeled":
            metrics[f"{name}/loss"] = F.cross_entropy(logits, labels).item()
            metrics[f"{name}/top5"] = topk_accuracy(logits, labels, 5)
    return metrics

"""Data held on the training device as uint8; batches are sampled and augmented there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ssl_core.data.augment import add_noise, strong_augment, weak_augment
from ssl_core.data.datasets import RawDataset, load_dataset
from ssl_core.data.split import split_indices
from ssl_core.spec import RunSpec


@dataclass
class UnlabeledBatch:
    index: Tensor  # positions in the unlabeled split (FlexMatch remembers per index)
    images: Tensor  # uint8 (N, C, H, W)
    true_labels: Tensor  # hidden labels: diagnostics only (pseudo-label accuracy), never training


class DeviceData:
    """The labeled, unlabeled, validation and test sets of one run, resident on ``device``."""

    def __init__(
        self,
        spec: RunSpec,
        device: torch.device,
        data_dir: Path | None = None,
        raw: RawDataset | None = None,
    ) -> None:
        # ``raw`` lets benchmarks and notebooks supply images directly (e.g. synthetic
        # CIFAR-shaped tensors) instead of reading ``spec.dataset`` from disk.
        raw = raw if raw is not None else load_dataset(spec.dataset, data_dir)
        info = spec.dataset_info
        split = split_indices(
            raw.train_y.numpy(),
            spec.num_labels,
            spec.num_val_per_class,
            spec.seed,
            info.num_classes,
        )
        self.spec = spec
        self.device = device
        self.num_classes = info.num_classes
        self.mean = torch.tensor(info.mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(info.std, device=device).view(1, -1, 1, 1)
        # Flip is left out where it is meaningless (digits, SVHN) unless asked for explicitly.
        self.weak_ops = list(spec.weak_augment)

        def take(x: Tensor, idx: np.ndarray) -> Tensor:
            return x[torch.from_numpy(idx)].to(device)

        self.labeled_x = take(raw.train_x, split.labeled)
        self.labeled_y = take(raw.train_y, split.labeled)
        self.unlabeled_x = take(raw.train_x, split.unlabeled)
        self.unlabeled_y = take(raw.train_y, split.unlabeled)
        if raw.extra_unlabeled_x is not None:  # STL-10: its unlabeled images have no labels (-1)
            self.unlabeled_x = torch.cat([self.unlabeled_x, raw.extra_unlabeled_x.to(device)])
            missing = torch.full((len(raw.extra_unlabeled_x),), -1, device=device)
            self.unlabeled_y = torch.cat([self.unlabeled_y, missing])
        self.val_x = take(raw.train_x, split.validation)
        self.val_y = take(raw.train_y, split.validation)
        self.test_x = raw.test_x.to(device)
        self.test_y = raw.test_y.to(device)

    @property
    def num_unlabeled(self) -> int:
        return len(self.unlabeled_x)

    def normalize(self, x_uint8: Tensor) -> Tensor:
        """uint8 → float, normalised with the dataset's mean and std, channels_last."""
        x = x_uint8.float().div_(255)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def _finish(self, x01: Tensor) -> Tensor:
        x = ((x01 - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return add_noise(x) if "noise" in self.weak_ops else x

    # Crop and flip move whole pixels, so they run on the uint8 images (a quarter of the bytes)
    # and the float conversion comes after: the same values as converting first.
    def weak(self, images: Tensor) -> Tensor:
        return self._finish(weak_augment(images, self.weak_ops).float().div_(255))

    def strong(self, images: Tensor, num_ops: int, cutout_fraction: float) -> Tensor:
        x = weak_augment(images, [op for op in self.weak_ops if op != "noise"]).float().div_(255)
        x = strong_augment(x, num_ops, cutout_fraction)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def sample_labeled(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Uniform sampling with replacement, on the device (no host round-trip)."""
        idx = torch.randint(0, len(self.labeled_x), (batch_size,), device=self.device)
        return self.labeled_x[idx], self.labeled_y[idx]

    def sample_unlabeled(self, batch_size: int) -> UnlabeledBatch:
        idx = torch.randint(0, self.num_unlabeled, (batch_size,), device=self.device)
        return UnlabeledBatch(idx, self.unlabeled_x[idx], self.unlabeled_y[idx])

    def eval_sets(self) -> dict[str, tuple[Tensor, Tensor]]:
        return {
            "labeled": (self.labeled_x, self.labeled_y),
            "val": (self.val_x, self.val_y),
            "test": (self.test_x, self.test_y),
        }

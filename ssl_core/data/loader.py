"""Data held on the training device as uint8; batches are sampled and augmented there."""

from __future__ import annotations

import ctypes
import functools
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ssl_core.contract.spec import RunSpec
from ssl_core.data.augment import add_noise, strong_augment_uint8, weak_augment
from ssl_core.data.datasets import RawDataset, load_dataset
from ssl_core.data.split import split_indices
from ssl_core.environment import tensors_sha256

# glibc's malloc hands blocks above its (adaptive, at most 32 MiB) mmap threshold back to the
# kernel on free and trims the heap top above twice that. The augmentation makes and drops a few
# dozen tensors of 1–12 MiB per step, so on the CPU a third of its time went to page faults on
# memory that was just given back. Serving blocks up to 16 MiB from the heap and keeping up to
# 128 MiB of it removes them; activations (larger blocks) are still returned to the system.
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 16 << 20, 128 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)


@functools.cache
def keep_small_blocks_mapped() -> bool:
    """Tune glibc malloc for the CPU data path once per process; False where it is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    return ok and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1


@contextmanager
def one_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """Run the batch augmentation with one intra-op thread on the CPU.

    It is hundreds of small ops. On a CPU shared with other jobs each multi-threaded op can wait
    a whole scheduler slice for a descheduled worker thread: a 448-image strong view took 1.2 s
    with 2 threads against 15 ms with one. Next to the network's forward and backward, one
    thread costs nothing that matters, and it never falls off that cliff. (torch's thread count
    is per process: this suits one training per process, which is how the worker runs them.)
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
        # The exact bytes this run trains and tests on (the run's environment record).
        self.dataset_sha256 = tensors_sha256(
            raw.train_x, raw.train_y, raw.test_x, raw.test_y, raw.extra_unlabeled_x
        )
        if device.type == "cpu":
            keep_small_blocks_mapped()
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
        # The spec's default already leaves flip out where it changes the class (digits, SVHN:
        # DatasetEntry.flip); a list the user wrote is used as written.
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
        x = x_uint8.to(torch.float32, memory_format=torch.channels_last).div_(255)
        return x.sub_(self.mean).div_(self.std)  # the values of (x − mean) / std, in place

    def _finish(self, x01: Tensor) -> Tensor:
        # In place: x01 is always a fresh channels_last float tensor made here from uint8 images.
        x = x01.sub_(self.mean).div_(self.std)
        return add_noise(x) if "noise" in self.weak_ops else x

    # Crop and flip move whole pixels, so they run on the uint8 images (a quarter of the bytes)
    # and the float conversion comes after: the same values as converting first.
    def weak(self, images: Tensor) -> Tensor:
        with one_thread_on_cpu(self.device):
            x = weak_augment(images, self.weak_ops)
            return self._finish(x.to(torch.float32, memory_format=torch.channels_last).div_(255))

    def strong(
        self, images: Tensor, num_ops: int, cutout_fraction: float, variant: str = "fixmatch"
    ) -> Tensor:
        with one_thread_on_cpu(self.device):
            return strong_augment_uint8(
                images, self.weak_ops, num_ops, cutout_fraction, self.mean, self.std, variant
            )

    def sample_labeled(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Uniform sampling with replacement, on the device (no host round-trip)."""
        # index_select rather than x[idx]: the same rows, and on CPU ~20× faster for uint8 images.
        idx = torch.randint(0, len(self.labeled_x), (batch_size,), device=self.device)
        return self.labeled_x.index_select(0, idx), self.labeled_y.index_select(0, idx)

    def sample_unlabeled(self, batch_size: int) -> UnlabeledBatch:
        idx = torch.randint(0, self.num_unlabeled, (batch_size,), device=self.device)
        x, y = self.unlabeled_x.index_select(0, idx), self.unlabeled_y.index_select(0, idx)
        return UnlabeledBatch(idx, x, y)

    def eval_sets(self) -> dict[str, tuple[Tensor, Tensor]]:
        return {
            "labeled": (self.labeled_x, self.labeled_y),
            "val": (self.val_x, self.val_y),
            "test": (self.test_x, self.test_y),
        }

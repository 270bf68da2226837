"""Dataset loaders: each returns uint8 images (N, C, H, W) and int64 labels, nothing else.

Nothing is downloaded: files are read from ``MATCHLAB_DATA_DIR`` (or a system location), and a
missing dataset fails with a message saying where matchlab looked and how to get the files.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ssl_core.contract.errors import DatasetMissing
from ssl_core.contract.settings import CoreSettings
from ssl_core.registry import dataset_loader

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class RawDataset:
    train_x: Tensor  # uint8 (N, C, H, W)
    train_y: Tensor  # int64 (N,)
    test_x: Tensor
    test_y: Tensor
    extra_unlabeled_x: Tensor | None = None  # STL-10's unlabeled images, no labels at all


def default_data_dir() -> Path:
    """``MATCHLAB_DATA_DIR``, else ``data/`` under ``MATCHLAB_HOME`` (``ssl_core.contract.settings``)."""
    return CoreSettings().datasets_dir


def load_dataset(name: str, data_dir: Path | None = None) -> RawDataset:
    return dataset_loader(name)(Path(data_dir) if data_dir else default_data_dir())


def _nchw(images: np.ndarray) -> Tensor:
    """(N, H, W) or (N, H, W, C) uint8 → contiguous (N, C, H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if tensor.dim() == 3:
        return tensor.unsqueeze(1).contiguous()
    return tensor.permute(0, 3, 1, 2).contiguous()


def load_digits(data_dir: Path) -> RawDataset:
    """scikit-learn's bundled 8×8 digits (1,797 images, values 0–16), split 2/3 train per class.

    The train/test split is fixed (not the run's seed) so every run is scored on the same 597
    test images.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    rng = np.random.default_rng(20190502)
    train, test = [], []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        cut = round(len(members) * 2 / 3)
        train.extend(members[:cut])
        test.extend(members[cut:])
    train, test = np.sort(train), np.sort(test)
    return RawDataset(
        _nchw(images[train]),
        torch.from_numpy(labels[train]),
        _nchw(images[test]),
        torch.from_numpy(labels[test]),
    )


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values, found {array.size}")
    return array.reshape(shape).copy()  # frombuffer is read-only; torch wants writable


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def load_fashion_mnist(data_dir: Path) -> RawDataset:
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    stems += ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    folders = [data_dir / "fashion_mnist", FASHION_MNIST_SYSTEM_DIR]
    for folder in folders:
        paths = [_find_idx(folder, s) for s in stems]
        if all(paths):
            train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
            return RawDataset(
                _nchw(train_x),
                torch.from_numpy(train_y.astype(np.int64)),
                _nchw(test_x),
                torch.from_numpy(test_y.astype(np.int64)),
            )
    raise DatasetMissing(
        "dataset fashion_mnist: IDX files (train-images-idx3-ubyte[.gz] and the other three) "
        f"not found in {' or '.join(str(f) for f in folders)}. On Debian: "
        "`apt-get install dataset-fashion-mnist`; or copy the four files into "
        f"{folders[0]}."
    )


def _torchvision(name: str, data_dir: Path, make):  # noqa: ANN001, ANN202 — torchvision classes
    folder = data_dir / name
    try:
        return make(str(folder))
    except (RuntimeError, FileNotFoundError, OSError) as error:
        raise DatasetMissing(
            f"dataset {name}: torchvision could not read it from {folder} ({error}). Download it "
            f"there with torchvision (download=True) on a machine with internet, or set "
            f"MATCHLAB_DATA_DIR to the folder that holds {name}/."
        ) from error


def _labels(values) -> Tensor:  # noqa: ANN001 — list or ndarray
    return torch.as_tensor(np.asarray(values), dtype=torch.long)


def load_cifar10(data_dir: Path) -> RawDataset:
    from torchvision.datasets import CIFAR10

    train = _torchvision("cifar10", data_dir, lambda root: CIFAR10(root, train=True))
    test = _torchvision("cifar10", data_dir, lambda root: CIFAR10(root, train=False))
    return RawDataset(
        _nchw(train.data), _labels(train.targets), _nchw(test.data), _labels(test.targets)
    )


def load_cifar100(data_dir: Path) -> RawDataset:
    from torchvision.datasets import CIFAR100

    train = _torchvision("cifar100", data_dir, lambda root: CIFAR100(root, train=True))
    test = _torchvision("cifar100", data_dir, lambda root: CIFAR100(root, train=False))
    return RawDataset(
        _nchw(train.data), _labels(train.targets), _nchw(test.data), _labels(test.targets)
    )


def load_svhn(data_dir: Path) -> RawDataset:
    from torchvision.datasets import SVHN

    train = _torchvision("svhn", data_dir, lambda root: SVHN(root, split="train"))
    test = _torchvision("svhn", data_dir, lambda root: SVHN(root, split="test"))
    # torchvision's SVHN data is already (N, C, H, W).
    return RawDataset(
        torch.from_numpy(train.data).contiguous(),
        _labels(train.labels),
        torch.from_numpy(test.data).contiguous(),
        _labels(test.labels),
    )


def load_svhn_extra(data_dir: Path) -> RawDataset:
    """SVHN's train and "extra" splits as one training set (604,388 images), the test split as
    test; the files are read from ``<data_dir>/svhn/`` like ``svhn``'s."""
    from torchvision.datasets import SVHN

    base = load_svhn(data_dir)
    extra = _torchvision("svhn", data_dir, lambda root: SVHN(root, split="extra"))
    return RawDataset(
        torch.cat([base.train_x, torch.from_numpy(extra.data)]).contiguous(),
        torch.cat([base.train_y, _labels(extra.labels)]),
        base.test_x,
        base.test_y,
    )


def load_stl10(data_dir: Path) -> RawDataset:
    from torchvision.datasets import STL10

    train = _torchvision("stl10", data_dir, lambda root: STL10(root, split="train"))
    test = _torchvision("stl10", data_dir, lambda root: STL10(root, split="test"))
    extra = _torchvision("stl10", data_dir, lambda root: STL10(root, split="unlabeled"))
    return RawDataset(
        torch.from_numpy(train.data).contiguous(),
        _labels(train.labels),
        torch.from_numpy(test.data).contiguous(),
        _labels(test.labels),
        extra_unlabeled_x=torch.from_numpy(extra.data).contiguous(),
    )

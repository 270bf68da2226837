"""Loading from tiny files in the real on-disk formats, the split, and missing-data messages."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from ssl_core.contract.errors import DatasetMissing
from ssl_core.data import load_dataset, split_indices
from ssl_core.data.datasets import read_idx


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_idx_files(tmp_path, monkeypatch):
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (30, 28, 28))
    _write_idx(folder / "train-images-idx3-ubyte.gz", train_x)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(30) % 10)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10))
    raw = load_dataset("fashion_mnist", tmp_path)
    assert raw.train_x.shape == (30, 1, 28, 28) and raw.train_x.dtype == torch.uint8
    assert torch.equal(raw.train_x[:, 0], torch.from_numpy(train_x.astype(np.uint8)))
    assert raw.train_y.tolist() == [i % 10 for i in range(30)]
    assert raw.test_x.shape == (10, 1, 28, 28)


def test_truncated_idx_file_is_reported(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 10) + b"\x00" * 5)
    with pytest.raises(ValueError, match="expected 10 values, found 5"):
        read_idx(path)


def test_cifar10_from_python_pickle_batches(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(n, offset):
        data = rng.integers(0, 256, (n, 3 * 32 * 32)).astype(np.uint8)
        return {"data": data, "labels": [(offset + i) % 10 for i in range(n)]}

    batches = {f"data_batch_{i}": batch(10, i) for i in range(1, 6)} | {"test_batch": batch(10, 0)}
    for name, content in batches.items():
        with open(folder / name, "wb") as f:
            pickle.dump(content, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    # torchvision checks md5 sums of the real files; the tiny files skip only that check
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: True)
    raw = load_dataset("cifar10", tmp_path)
    assert raw.train_x.shape == (50, 3, 32, 32) and raw.train_x.dtype == torch.uint8
    first = batches["data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert torch.equal(raw.train_x[0], torch.from_numpy(first))
    assert raw.test_y.tolist() == list(range(10))


def test_missing_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr("ssl_core.data.datasets.FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(DatasetMissing, match="apt-get install dataset-fashion-mnist") as info:
        load_dataset("fashion_mnist", tmp_path)
    assert str(tmp_path / "fashion_mnist") in str(info.value)
    with pytest.raises(DatasetMissing, match=str(tmp_path / "cifar10")):
        load_dataset("cifar10", tmp_path)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(KeyError, match="valid: cifar10, cifar100, digits"):
        load_dataset("imagenet")


def test_split_is_class_balanced_disjoint_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    split = split_indices(labels, num_labels=40, num_val_per_class=5, seed=3, num_classes=10)
    assert np.bincount(labels[split.labeled]).tolist() == [4] * 10
    assert np.bincount(labels[split.validation]).tolist() == [5] * 10
    parts = [set(split.labeled), set(split.unlabeled), set(split.validation)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(len(p) for p in parts) == 500
    again = split_indices(labels, 40, 5, seed=3, num_classes=10)
    other = split_indices(labels, 40, 5, seed=4, num_classes=10)
    assert np.array_equal(split.labeled, again.labeled)
    assert not np.array_equal(split.labeled, other.labeled)


def test_digits_fixed_test_set():
    raw = load_dataset("digits")
    assert raw.train_x.shape[1:] == (1, 8, 8)
    assert len(raw.train_x) + len(raw.test_x) == 1797
    assert raw.train_x.max() == 255


def test_class_names_name_every_class_or_none():
    from dataclasses import replace

    from ssl_core.contract import catalog

    for entry in catalog.CATALOG.datasets.values():
        assert len(entry.class_names) in (0, entry.num_classes), entry.name
    assert catalog.dataset("fashion_mnist").class_names[6] == "shirt"
    with pytest.raises(ValueError, match="class_names names 2 classes; it has 10"):
        replace(catalog.dataset("cifar10"), class_names=("a", "b"))


def _write_svhn(folder, split, n, first_label):
    """A tiny ``<split>_32x32.mat`` as SVHN ships it: X (32, 32, 3, N) uint8, y (N, 1), 10 = 0."""
    from scipy.io import savemat

    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = ((np.arange(n) + first_label) % 10).reshape(n, 1)
    y[y == 0] = 10
    savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y.astype(np.uint8)})
    return x


def test_svhn_extra_joins_the_extra_split_to_train(tmp_path, monkeypatch):
    folder = tmp_path / "svhn"
    folder.mkdir()
    train = _write_svhn(folder, "train", 20, 0)
    extra = _write_svhn(folder, "extra", 30, 5)
    _write_svhn(folder, "test", 10, 0)
    import torchvision.datasets.svhn as svhn

    # torchvision checks md5 sums of the real files; the tiny files skip only that check
    monkeypatch.setattr(svhn, "check_integrity", lambda path, md5=None: True)
    plain = load_dataset("svhn", tmp_path)
    raw = load_dataset("svhn_extra", tmp_path)
    assert plain.train_x.shape == (20, 3, 32, 32)
    assert raw.train_x.shape == (50, 3, 32, 32) and raw.train_x.dtype == torch.uint8
    # (H, W, C, N) on disk → (N, C, H, W); the extra images follow train's, label 10 read as 0
    assert torch.equal(raw.train_x[20], torch.from_numpy(extra[..., 0].transpose(2, 0, 1)))
    assert torch.equal(raw.train_x[0], torch.from_numpy(train[..., 0].transpose(2, 0, 1)))
    assert raw.train_y[:20].tolist() == [i % 10 for i in range(20)]
    assert raw.train_y[20:].tolist() == [(i + 5) % 10 for i in range(30)]
    assert raw.test_x.shape == (10, 3, 32, 32)
    (folder / "extra_32x32.mat").unlink()
    with pytest.raises(DatasetMissing, match=str(folder)):
        load_dataset("svhn_extra", tmp_path)

"""Datasets as uint8 tensors, the labeled/unlabeled/validation split, batched augmentation."""

from ssl_core.data.datasets import RawDataset, default_data_dir, load_dataset
from ssl_core.data.loader import DeviceData
from ssl_core.data.split import Split, split_indices

__all__ = ["DeviceData", "RawDataset", "Split", "default_data_dir", "load_dataset", "split_indices"]

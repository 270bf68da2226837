"""What produced a run: code version, software, device, precision and data, as one record.

The trainer writes it at the start of every training session (``TrainStart.environment``); the
worker adds its host and name and stores it with the run (``environment`` in the run JSON), so a
result can be traced to the commit, the library versions, the card and the exact dataset bytes.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import torchvision

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode(errors="replace")


@lru_cache
def code_version() -> dict[str, Any]:
    """matchlab's version; the git commit of this code with a dirty flag and the hash of the
    uncommitted diff (None outside a git checkout, e.g. an installed wheel)."""
    try:
        version = metadata.version("matchlab")
    except metadata.PackageNotFoundError:
        version = None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip()) if status is not None else None
    diff = _git("diff", "HEAD") if dirty else None
    return {
        "matchlab_version": version,
        "git_commit": commit.strip() if commit else None,
        "git_dirty": dirty,
        "git_diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None,
    }


def software() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _cpu_model() or platform.processor() or platform.machine()


@lru_cache
def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        return None
    return None


def tensors_sha256(*tensors: torch.Tensor | None) -> str:
    """SHA-256 over the tensors' bytes (in order): the exact images and labels a run used."""
    digest = hashlib.sha256()
    for tensor in tensors:
        if tensor is not None:
            digest.update(tensor.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def describe(device: torch.device, precision: str, dataset_sha256: str) -> dict[str, Any]:
    """The record (without host and worker, which the worker adds)."""
    return {
        **code_version(),
        **software(),
        "device": str(device),
        "device_name": device_name(device),
        "precision": precision,
        "dataset_sha256": dataset_sha256,
        "platform": sys.platform,
    }

"""Shared helpers for the benchmarks: synthetic data, trainers, side-by-side timing, machine info.

The machines these run on are shared and noisy, so every figure is a ratio of two things timed
alternately in the same process (A, B, A, B, ...): a burst of load slows both sides of a pair,
and the median over pairs ignores the bursts that hit only one side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ssl_core.contract.spec import RunSpec, build_spec
from ssl_core.data import RawDataset
from ssl_core.trainer import Trainer, autocast_for, make_optimizer, resolve_device

# Paper batch sizes (FixMatch / FlexMatch / MixMatch papers): 64 labeled; μ = 7 for
# FixMatch/FlexMatch; μ = 1 with K = 2 weak views for MixMatch.
PAPER_URATIO = {"supervised": 0, "mixmatch": 1, "fixmatch": 7, "flexmatch": 7}
ALGORITHMS = ("supervised", "mixmatch", "fixmatch", "flexmatch")


def synthetic_raw(
    per_class: int = 5000,
    test_per_class: int = 1000,
    size: int = 32,
    channels: int = 3,
    classes: int = 10,
    seed: int = 0,
) -> RawDataset:
    """Random uint8 images with CIFAR-10's shapes (defaults: 50,000 train, 10,000 test)."""
    g = torch.Generator().manual_seed(seed)

    def part(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randint(
            0, 256, (n * classes, channels, size, size), dtype=torch.uint8, generator=g
        )
        return x, torch.arange(n * classes) % classes

    train_x, train_y = part(per_class)
    test_x, test_y = part(test_per_class)
    return RawDataset(train_x, train_y, test_x, test_y)


def bench_spec(algorithm: str, device: str, net: str = "wrn_28_2", **overrides: Any) -> RunSpec:
    """The paper preset on CIFAR-10 shapes, 40 labels; ``overrides`` win (e.g. batch_size)."""
    values: dict[str, Any] = {
        "algorithm": algorithm,
        "dataset": "cifar10",
        "net": net,
        "num_labels": 40,
        "device": device,
        "uratio": PAPER_URATIO[algorithm],
        "epochs": 1,
        "iters_per_epoch": 1000,
    }
    values.update(overrides)
    return build_spec(values, preset="paper")


def make_trainer(spec: RunSpec, raw: RawDataset) -> Trainer:
    return Trainer(spec, raw=raw)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class FloorStep:
    """The compute floor of one training step: the same network's bare forward + backward +
    optimiser step on ``rows`` normalised channels_last rows, plus a no-grad forward of
    ``no_grad_rows`` rows (MixMatch's label guessing), under the run's autocast."""

    trainer: Trainer
    rows: int
    no_grad_rows: int = 0
    model: torch.nn.Module = field(init=False)

    def __post_init__(self) -> None:
        import copy

        t = self.trainer
        # A copy with its own optimiser: the floor must not change the trainer's state.
        self.model = copy.deepcopy(t.model).train()
        self.optimizer = make_optimizer(t.spec, self.model)
        info = t.spec.dataset_info
        shape = (info.channels, info.image_size, info.image_size)
        self.x = torch.randn(self.rows, *shape, device=t.device).contiguous(
            memory_format=torch.channels_last
        )
        self.y = torch.randint(0, info.num_classes, (self.rows,), device=t.device)
        self.u = torch.randn(self.no_grad_rows, *shape, device=t.device).contiguous(
            memory_format=torch.channels_last
        )

    def __call__(self) -> None:
        with autocast_for(self.trainer.spec, self.trainer.device):
            if self.no_grad_rows:
                with torch.no_grad():
                    self.model(self.u)
            loss = torch.nn.functional.cross_entropy(self.model(self.x).float(), self.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def floor_rows(trainer: Trainer) -> tuple[int, int]:
    """(rows with gradient, rows of no-grad forward) that one step of the algorithm needs."""
    spec = trainer.spec
    b, u = spec.batch_size, spec.batch_size * spec.uratio
    views = len(trainer.algorithm.views)
    if spec.algorithm == "mixmatch":
        return b + views * u, views * u  # guess labels on K·μB rows, then train on B + K·μB
    return b + views * u, 0  # FixMatch's pseudo-labels come from the same forward


# Wall-clock seconds by default. "cpu" counts this process's CPU seconds (all threads) instead:
# on a machine shared with other jobs it ignores the time spent waiting for a core, so it is a
# steadier cross-check of a ratio (most of all with --threads 1), though not a wall-clock figure.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = CLOCKS["wall"]


def set_clock(name: str) -> None:
    global _clock
    _clock = CLOCKS[name]


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    start = _clock()
    fn()
    sync(device)
    return _clock() - start


@dataclass
class Rounds:
    """Timings of several callables run in interleaved rounds; ratios are per round."""

    times: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratios(self, a: str, b: str) -> list[float]:
        return sorted(x / y for x, y in zip(self.times[a], self.times[b], strict=True))

    def ratio(self, a: str, b: str) -> float:
        """Median over rounds of time(a) / time(b): robust to load that changes between rounds."""
        return statistics.median(self.ratios(a, b))

    def spread(self, a: str, b: str) -> str:
        r = self.ratios(a, b)
        return f"{r[0]:.2f}–{r[-1]:.2f}"


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, device: torch.device, warmup: int = 1
) -> Rounds:
    """Run every callable once per round, ``repeats`` rounds after ``warmup`` untimed ones."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            timed(fns[name], device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        # Rotate the order so no callable always runs first (after a pause) or last.
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(timed(fns[name], device))
    return Rounds(times)


def add_machine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--clock", default="wall", choices=list(CLOCKS), help="what a timing counts")


def apply_machine_args(args: argparse.Namespace) -> torch.device:
    if args.threads:
        torch.set_num_threads(args.threads)
    set_clock(args.clock)
    return resolve_device(args.device)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def machine_line(device: torch.device) -> str:
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{dt.datetime.now().isoformat(timespec='seconds')} | CPU {cpu_model()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads | "
        f"{card} | {_clock_name()} clock | load average at start {load:.2f}"
    )


def _clock_name() -> str:
    return next(name for name, fn in CLOCKS.items() if fn is _clock)


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    return f"{'MET' if ok else 'MISSED'} (target {sign} {target:g})"

"""How many trainings one worker holds at once (its *slots*), and each one's thread budget.

A small net's ops are too small to share well between cores, and a digits-sized run leaves a GPU
nearly idle, so a worker trains up to N runs side by side: Celery's prefork pool with
``--concurrency N``, one training per pool process, each with ``torch.set_num_threads(threads)``.

The plan (``plan_slots``) is a pure function of the machine and the nets waiting to train:

- CPU: ``threads`` = what the largest waiting net uses to good effect (``NetEntry.cpu_threads``:
  1 for the small CNN, 2+ for WideResNets), ``slots`` = cores ÷ threads.
- CUDA: ``slots`` = free memory ÷ the largest waiting net's estimate (``NetEntry.gpu_gib``),
  at most ``MAX_GPU_SLOTS``; the CPU threads are shared out between them.

``matchlab worker --slots N`` overrides the count; threads are then cores ÷ N, unless
``--threads T`` sets them too. Results are reproducible for a given seed, device and thread
count: a run's slot never changes them, its thread count can (float sums reduce in another
order, and training amplifies the last bits), so the thread count is in its environment record.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from ssl_core.contract import catalog
from ssl_core.contract.spec import RunSpec

log = logging.getLogger(__name__)

MAX_GPU_SLOTS = 4  # more runs than this on one card contend for its compute, not its memory
GPU_MEMORY_SHARE = 0.9  # of the free memory: leave room for the CUDA context and fragmentation
THREADS_ENV = "MATCHLAB_WORKER_THREADS"  # the per-training thread budget, for the pool processes


@dataclass(frozen=True)
class SlotPlan:
    slots: int  # trainings at once
    threads: int  # torch threads per training
    device: str  # "cpu" or "cuda"
    reason: str  # one line for the worker's log: how the numbers were chosen

    def describe(self) -> str:
        return f"{self.slots} slot(s) × {self.threads} thread(s) on {self.device}: {self.reason}"


def plan_slots(
    *,
    cores: int,
    nets: Iterable[str],
    cuda_free_gib: float | None = None,
    requested: int | None = None,
    threads: int | None = None,
) -> SlotPlan:
    """The slot count and thread budget for a machine with ``cores`` usable cores and (when it
    has a GPU) ``cuda_free_gib`` free on it, for runs of ``nets``; ``requested`` overrides the
    slot count, ``threads`` the threads per training."""
    if requested is not None and requested < 1:
        raise ValueError(f"--slots must be at least 1, got {requested}")
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    plan = _plan(cores, nets, cuda_free_gib, requested)
    if threads is None:
        return plan
    return SlotPlan(plan.slots, threads, plan.device, f"{plan.reason}; threads asked for")


def _plan(
    cores: int, nets: Iterable[str], cuda_free_gib: float | None, requested: int | None
) -> SlotPlan:
    cores = max(1, cores)
    entries = [catalog.net(name) for name in dict.fromkeys(nets)] or [_default_net()]
    largest = max(entries, key=lambda entry: (entry.cpu_threads, entry.gpu_gib))
    if cuda_free_gib is not None:
        if requested is not None:
            slots, reason = requested, "asked for with --slots"
        else:
            fits = int(cuda_free_gib * GPU_MEMORY_SHARE // largest.gpu_gib)
            slots = max(1, min(MAX_GPU_SLOTS, fits))
            reason = (
                f"{cuda_free_gib:.1f} GiB free, ~{largest.gpu_gib:g} GiB per {largest.name} run "
                f"(estimate), at most {MAX_GPU_SLOTS}"
            )
        return SlotPlan(slots, max(1, cores // slots), "cuda", reason)
    if requested is not None:
        return SlotPlan(requested, max(1, cores // requested), "cpu", "asked for with --slots")
    threads = min(cores, largest.cpu_threads)
    reason = f"{cores} core(s), {threads} thread(s) per {largest.name} run"
    return SlotPlan(max(1, cores // threads), threads, "cpu", reason)


# A worker with an empty queue plans for runs of the spec's default dataset.
DEFAULT_DATASET: str = RunSpec.model_fields["dataset"].default


def _default_net() -> catalog.NetEntry:
    return catalog.net(catalog.dataset(DEFAULT_DATASET).net)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cuda_free_gib() -> float | None:
    """Free memory (GiB) on the first visible GPU, from ``nvidia-smi``; None without one.

    Not from torch: a CUDA context made in the worker's main process would be unusable in the
    pool processes it forks."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1") or not shutil.which("nvidia-smi"):
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits",
             "-i", visible],
            capture_output=True, text=True, timeout=20, check=True,
        )  # fmt: skip
        return float(done.stdout.split()[0]) / 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        log.warning("nvidia-smi did not report free memory; planning for the CPU")
        return None


def waiting_nets(specs: Iterable[dict]) -> list[str]:
    """The nets the given run specs train (a spec without ``net`` uses its dataset's)."""
    nets = []
    for spec in specs:
        name = spec.get("net")
        if not name:
            try:
                name = catalog.dataset(spec.get("dataset", DEFAULT_DATASET)).net
            except KeyError:
                continue
        if name in catalog.NETS:
            nets.append(name)
    return nets


def apply_thread_budget() -> int | None:
    """In a training process: use the worker's per-training thread budget (``THREADS_ENV``).

    Returns the thread count, or None when the worker set none (torch's default applies)."""
    value = os.environ.get(THREADS_ENV)
    if not value:
        return None
    import torch  # only the process that trains loads torch

    threads = int(value)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def plan_for_this_machine(requested: int | None = None, threads: int | None = None) -> SlotPlan:
    """``plan_slots`` for this machine's cores and GPU and the nets of the runs waiting now."""
    from sqlmodel import Session, col, select

    from app.store.db import get_engine
    from app.store.models import Run, Status

    with Session(get_engine()) as session:
        specs = session.exec(
            select(Run.spec).where(col(Run.status).in_([Status.queued, Status.running])).limit(500)
        ).all()
    return plan_slots(
        cores=usable_cores(),
        nets=waiting_nets(specs),
        cuda_free_gib=cuda_free_gib(),
        requested=requested,
        threads=threads,
    )


def pool_args(plan: SlotPlan) -> list[str]:
    """Celery worker arguments for the plan: the solo pool for one slot (training in the worker
    process itself), the prefork pool with one process per slot otherwise."""
    if plan.slots == 1:
        return ["--pool=solo", "--concurrency=1"]
    return ["--pool=prefork", f"--concurrency={plan.slots}"]

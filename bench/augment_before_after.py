"""The data path before and after issue 5's changes, timed side by side in one process.

Loads ``ssl_core/data/augment.py`` and ``loader.py`` as they were at ``--rev`` (default: the
first ssl_core commit) from git into a private module, builds both ``DeviceData`` versions over
the same synthetic CIFAR-shaped images and times one FixMatch batch's data work (sample 64 + 448,
weak views of both, strong view of the 448) alternately. Also checks that both give the same
tensors for the same seed.

    .venv/bin/python bench/augment_before_after.py [--rev 7066733] [--rounds 15] [--threads 1]
        [--strong-only] [--clock cpu]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import torch
from common import bench_spec, interleaved, machine_line, set_clock, synthetic_raw

import ssl_core.data
from ssl_core.data import DeviceData

ROOT = Path(__file__).resolve().parents[1]


def old_device_data(rev: str) -> type:
    """``DeviceData`` from ``rev``, its augment module swapped in (the rest is today's)."""

    def source(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    code = source("ssl_core/data/augment.py")
    if "ssl_core.data.augment_ops" in code:  # the ops as they were too, where rev had that file
        ops = types.ModuleType("old_augment_ops")
        sys.modules["old_augment_ops"] = ops
        exec(
            compile(source("ssl_core/data/augment_ops.py"), "old_augment_ops", "exec"), ops.__dict__
        )
        code = code.replace("ssl_core.data.augment_ops", "old_augment_ops")
    augment = types.ModuleType("old_augment")
    sys.modules["old_augment"] = augment
    exec(compile(code, "old_augment", "exec"), augment.__dict__)
    loader = types.ModuleType("old_loader")
    sys.modules["old_loader"] = loader
    code = source("ssl_core/data/loader.py").replace("ssl_core.data.augment", "old_augment")
    exec(compile(code, "old_loader", "exec"), loader.__dict__)
    return loader.DeviceData


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rev", default="7066733", help="git revision of the 'before' code")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--strong-only", action="store_true", help="time only the strong view of 448")
    p.add_argument("--clock", default="wall", choices=["wall", "cpu"], help="what a timing counts")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    set_clock(args.clock)
    device = torch.device("cpu")
    spec = bench_spec("fixmatch", "cpu", num_val_per_class=10)
    raw = synthetic_raw(per_class=500, test_per_class=1)
    old_cls = old_device_data(args.rev)
    old_cls.__init__.__globals__["load_dataset"] = lambda name, data_dir: raw  # noqa: ARG005
    before, after = old_cls(spec, device), DeviceData(spec, device, raw=raw)
    hp = spec.hparams

    def batch(data: object) -> list[torch.Tensor]:
        if args.strong_only:
            u = data.sample_unlabeled(448)
            return [data.strong(u.images, hp.strong_augment_ops, hp.cutout_fraction)]
        x, _ = data.sample_labeled(64)
        u = data.sample_unlabeled(448)
        weak = [data.weak(x), data.weak(u.images)]
        return [*weak, data.strong(u.images, hp.strong_augment_ops, hp.cutout_fraction)]

    torch.manual_seed(1)
    a = batch(before)
    torch.manual_seed(1)
    b = batch(after)
    same = all(torch.equal(x, y) and x.stride() == y.stride() for x, y in zip(a, b, strict=True))
    rounds = interleaved({"before": lambda: batch(before), "after": lambda: batch(after)},
                         args.rounds, device, warmup=2)  # fmt: skip
    print(
        f"# augment_before_after: {machine_line(device)}; before = {args.rev} ({ssl_core.data.__name__})"
    )
    work = "sample 448, strong ×1" if args.strong_only else "sample 64 + 448, weak ×2, strong ×1"
    print("| data work of one FixMatch batch | before ms | after ms | speed-up | same tensors |")
    print("|---|---|---|---|---|")
    print(
        f"| {work} | {rounds.median('before') * 1e3:.1f} "
        f"| {rounds.median('after') * 1e3:.1f} | {rounds.ratio('before', 'after'):.2f}x "
        f"({rounds.spread('before', 'after')}) | {same} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

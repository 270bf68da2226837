"""Seconds per training step of every built-in algorithm on the digits defaults, and the ratio to
``supervised``, measured side by side: one step of each algorithm in turn, round after round, so
a busy machine slows them all alike. Each algorithm runs with its own default μ and views (the
spec defaults of ``matchlab train --algorithm X --dataset digits --num-labels 40``).

    .venv/bin/python bench/algorithm_steps.py                 # 20 rounds after 2 warm-up ones
    .venv/bin/python bench/algorithm_steps.py --rounds 5 --algorithms supervised,uda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from ssl_core.contract.catalog import BUILTIN_ALGORITHMS
from ssl_core.contract.spec import RunSpec
from ssl_core.trainer import Trainer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--algorithms", default=",".join(BUILTIN_ALGORITHMS), help="comma-separated")
    p.add_argument("--rounds", type=int, default=20, help="timed steps per algorithm")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = p.parse_args(argv)
    names = args.algorithms.split(",")
    if "supervised" not in names:
        names.insert(0, "supervised")
    trainers = {
        name: Trainer(
            RunSpec.model_validate(
                {"algorithm": name, "dataset": args.dataset, "num_labels": 40,
                 "device": args.device}
            )
        )
        for name in names
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.warmup + args.rounds):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            out = trainer.train_step(trainer.make_batch())
            out.loss.item()  # wait for the device
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            if round_ >= args.warmup:
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["supervised"])
    print(f"# {args.dataset}, device {args.device}, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} interleaved steps")  # fmt: skip
    print("| algorithm | μ | images / step | s / step | × supervised |")
    print("|---|---|---|---|---|")
    for name, trainer in trainers.items():
        spec = trainer.spec
        images = spec.batch_size * (1 + spec.uratio * len(trainer.algorithm.views))
        median = statistics.median(times[name])
        print(f"| `{name}` | {spec.uratio} | {images} | {median:.3f} | {median / base:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

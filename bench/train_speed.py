"""Target 1: seconds per training step against the compute floor, per algorithm.

A step is what ``Trainer.run_epoch`` does per iteration: sample and augment the batch on the
device, the algorithm's forward(s) and loss, backward, optimiser, schedule and EMA, and the
epoch meter. The floor is the same network's bare forward + backward + optimiser step on the
same number of rows (plus the no-grad forward MixMatch's label guessing needs), in the same
process, timed alternately with the step. Target: step / floor <= 1.10 for every algorithm.

    .venv/bin/python bench/train_speed.py                      # WRN-28-2, paper batch sizes
    .venv/bin/python bench/train_speed.py --quick              # CI-sized smoke run
    .venv/bin/python bench/train_speed.py --device cuda --compile
"""

from __future__ import annotations

import argparse
import sys

import torch
from common import (
    ALGORITHMS,
    FloorStep,
    add_machine_args,
    apply_machine_args,
    bench_spec,
    floor_rows,
    interleaved,
    machine_line,
    make_trainer,
    synthetic_raw,
    verdict,
)

from ssl_core.epoch_meter import EpochMeter
from ssl_core.trainer import Trainer

TARGET = 1.10
GPU_STEP_MS = 20.0  # target 6: a FixMatch WRN-28-2 μ=7 step on one H100


def step_fn(trainer: Trainer):  # noqa: ANN201 — a closure
    meter = EpochMeter(trainer.algorithm.num_classes, trainer.device)

    def step() -> None:
        batch = trainer.make_batch()
        meter.add(trainer.train_step(batch), batch)

    return step


def profile_step(name: str, fn, rows: int) -> None:  # noqa: ANN001
    from torch.profiler import profile

    with profile() as prof:
        fn()
    print(f"\n### profile: {name} ({rows} rows), top ops by self time")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma-separated")
    p.add_argument("--steps", type=int, default=5, help="timed step/floor pairs per algorithm")
    p.add_argument("--warmup", type=int, default=1, help="untimed pairs first")
    add_machine_args(p)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument("--net", default="wrn_28_2")
    p.add_argument("--batch-size", type=int, default=64, help="labeled batch B")
    p.add_argument(
        "--compile",
        action="store_true",
        help="the spec's compile for the trainer; the bench compiles the floor's net the same way",
    )
    p.add_argument("--profile", action="store_true", help="print a torch.profiler table per step")
    p.add_argument("--quick", action="store_true", help="cnn_small, B=8, tiny data, 2 steps")
    args = p.parse_args(argv)
    if args.quick:
        args.net, args.batch_size, args.steps, args.warmup = "cnn_small", 8, 2, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = apply_machine_args(args)
    torch.manual_seed(0)
    raw = synthetic_raw(per_class=60, test_per_class=10) if args.quick else synthetic_raw()
    extra = {"num_val_per_class": 10} if args.quick else {}
    print(f"# train_speed: {machine_line(device)}")
    print(
        f"# net {args.net}, B={args.batch_size}, precision {args.precision}, "
        f"compile {args.compile}, {args.steps} timed pairs after {args.warmup} warm-up"
    )
    print(
        "| algorithm | rows (grad + no-grad) | step s (median) | floor s (median) "
        "| step/floor (median of pairs) | min–max | verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    worst, steps = 0.0, {}
    for name in args.algorithms.split(","):
        spec = bench_spec(
            name,
            args.device,
            args.net,
            batch_size=args.batch_size,
            precision=args.precision,
            compile=args.compile,
            **extra,
        )
        trainer = make_trainer(spec, raw)
        rows, no_grad = floor_rows(trainer)
        floor = FloorStep(trainer, rows, no_grad)
        if args.compile:
            floor.model = torch.compile(floor.model)
        step = step_fn(trainer)
        rounds = interleaved({"step": step, "floor": floor}, args.steps, device, args.warmup)
        ratio = rounds.ratio("step", "floor")
        worst = max(worst, ratio)
        steps[name] = rounds.median("step")
        print(
            f"| {name} | {rows} + {no_grad} | {rounds.median('step'):.3f} "
            f"| {rounds.median('floor'):.3f} | {ratio:.3f} | {rounds.spread('step', 'floor')} "
            f"| {verdict(ratio, TARGET, higher_is_better=False)} |",
            flush=True,
        )
        if args.profile:
            profile_step(f"{name} step", step, rows)
            profile_step(f"{name} floor", floor, rows)
        del trainer, floor, step
    print(f"\nworst step/floor: {worst:.3f} — {verdict(worst, TARGET, higher_is_better=False)}")
    if device.type == "cuda" and "fixmatch" in steps and args.net == "wrn_28_2" and not args.quick:
        ms = steps["fixmatch"] * 1000
        print(
            f"FixMatch WRN-28-2 μ=7 step on {torch.cuda.get_device_name(device)}: {ms:.1f} ms — "
            f"{verdict(ms, GPU_STEP_MS, higher_is_better=False)} (the target is set for an H100)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The spec's ``compile`` (issue 15): what torch.compile costs once and what it saves per step.

For one algorithm, two trainers built from the same spec but for ``compile``:
- compile time, by torch's own accounting (``ssl_core.compiling.compile_seconds``: graph capture
  and the backend's compile of forward and backward graphs): the training graph at the first
  compiled step, the evaluation graph at the first compiled evaluation. ``cold``: inductor's
  on-disk cache empty (a fresh temporary one: what a machine's first compiled run pays);
  ``warm``: the same again after ``torch._dynamo.reset()`` with that cache filled (what a later
  run on the same machine pays; within one process a second run compiles nothing);
- seconds per training step (``Trainer.train_step`` on a fresh batch: augmentation, forward,
  backward, optimiser, EMA), eager and compiled timed alternately after the warm-up, and one
  full evaluation (labeled, validation and test splits) the same way.

    .venv/bin/python bench/compile_speed.py --threads 1          # FixMatch, cnn_small on digits
    .venv/bin/python bench/compile_speed.py --device cuda --paper  # WRN-28-2, B=64, μ=7
    .venv/bin/python bench/compile_speed.py --quick              # smoke run, seconds of steps
    .venv/bin/python bench/compile_speed.py --check-algorithms   # every algorithm compiles?

``--check-algorithms`` instead trains every registered algorithm for 2 epochs × 2 steps on
digits, eager and compiled, and prints the largest loss difference and the compile seconds
logged per epoch (a correctness check, minutes on a CPU: one compile per algorithm).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch
from common import (
    PAPER_URATIO,
    add_machine_args,
    apply_machine_args,
    bench_spec,
    interleaved,
    machine_line,
    sync,
    synthetic_raw,
    verdict,
)

from ssl_core import train
from ssl_core.compiling import compile_seconds
from ssl_core.contract.callbacks import Callback, EpochEnd
from ssl_core.contract.catalog import ALGORITHMS
from ssl_core.contract.metrics import COMPILE_SECONDS, is_loss
from ssl_core.contract.spec import RunSpec, build_spec
from ssl_core.data import RawDataset
from ssl_core.epoch_meter import EpochMeter
from ssl_core.evaluate import evaluate
from ssl_core.trainer import Trainer, autocast_for

GPU_STEP_MS = 20.0  # target 6: a FixMatch WRN-28-2 μ=7 step on one H100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--algorithm", default="fixmatch")
    p.add_argument("--steps", type=int, default=20, help="timed eager/compiled step pairs")
    p.add_argument("--warmup", type=int, default=3, help="untimed pairs after the first step")
    p.add_argument("--eval-rounds", type=int, default=3, help="timed evaluation pairs")
    add_machine_args(p)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    p.add_argument(
        "--paper",
        action="store_true",
        help="WRN-28-2 on CIFAR-10-shaped synthetic data, B=64 and the paper's μ (FixMatch: 7); "
        "default: the CPU demo's FixMatch, cnn_small on digits with the spec's defaults",
    )
    p.add_argument("--keep-cache", action="store_true", help="use inductor's usual cache dir")
    p.add_argument("--quick", action="store_true", help="digits, B=8, 3 timed pairs")
    p.add_argument("--check-algorithms", action="store_true", help="see the module docstring")
    p.add_argument(
        "--algorithms", default=",".join(ALGORITHMS), help="for --check-algorithms, comma-separated"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.paper, args.steps, args.warmup, args.eval_rounds = False, 3, 1, 1
    return args


def make_spec(args: argparse.Namespace) -> tuple[RunSpec, RawDataset | None]:
    if args.paper:
        spec = bench_spec(
            args.algorithm,
            args.device,
            "wrn_28_2",
            batch_size=64,
            uratio=PAPER_URATIO.get(args.algorithm, 7),
            precision=args.precision,
        )
        return spec, synthetic_raw()
    values = {"algorithm": args.algorithm, "dataset": "digits", "device": args.device}
    values["precision"] = args.precision
    if args.quick:
        values["batch_size"] = 8
    return build_spec(values), None  # digits is bundled: the real data, as a demo run


def step_fn(trainer: Trainer) -> Callable[[], None]:
    meter = EpochMeter(trainer.algorithm.num_classes, trainer.device)

    def step() -> None:
        batch = trainer.make_batch()
        meter.add(trainer.train_step(batch), batch)

    return step


def eval_fn(trainer: Trainer, model: torch.nn.Module) -> Callable[[], None]:
    def run() -> None:
        with autocast_for(trainer.spec, trainer.device):
            evaluate(model, trainer.data, trainer.spec.eval_batch_size)

    return run


def first_call(fn: Callable[[], None], device: torch.device) -> tuple[float, float]:
    """(compile seconds by torch's accounting, wall seconds) of a call that compiles."""
    before = compile_seconds() or 0.0
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return (compile_seconds() or 0.0) - before, time.perf_counter() - start


def measure(args: argparse.Namespace, device: torch.device) -> None:
    spec, raw = make_spec(args)
    eager = Trainer(spec, raw=raw)
    compiled = Trainer(spec.model_copy(update={"compile": True}), raw=raw)
    rows = spec.batch_size * (1 + spec.uratio * len(eager.algorithm.views))
    print(
        f"# {spec.algorithm}, net {spec.net} on {spec.dataset}"
        f"{' (synthetic, CIFAR-10 shapes)' if raw is not None else ''}, B={spec.batch_size}, "
        f"μ={spec.uratio}, {rows} rows a step, precision {args.precision}, "
        f"{args.steps} timed pairs after {args.warmup} warm-up"
    )
    cold_train = first_call(step_fn(compiled), device)
    cold_eval = first_call(eval_fn(compiled, compiled.eval_model), device)
    steps = interleaved(
        {"eager": step_fn(eager), "compiled": step_fn(compiled)}, args.steps, device, args.warmup
    )
    evals = interleaved(
        {
            "eager": eval_fn(eager, eager.ema.model),
            "compiled": eval_fn(compiled, compiled.eval_model),
        },
        args.eval_rounds,
        device,
        warmup=1,
    )
    torch._dynamo.reset()  # forget the compiled graphs; inductor's on-disk cache stays
    again = Trainer(spec.model_copy(update={"compile": True}), raw=raw)
    warm_train = first_call(step_fn(again), device)
    warm_eval = first_call(eval_fn(again, again.eval_model), device)

    first_label = (
        "first (inductor's usual cache, as found)"
        if args.keep_cache
        else "cold (empty inductor cache)"
    )
    print("\n| compile | training graph s (first step, wall s) | evaluation graph s (wall s) |")
    print("|---|---|---|")
    for name, (train_s, train_wall), (eval_s, eval_wall) in (
        (first_label, cold_train, cold_eval),
        ("warm (inductor cache filled)", warm_train, warm_eval),
    ):
        print(f"| {name} | {train_s:.1f} ({train_wall:.1f}) | {eval_s:.1f} ({eval_wall:.1f}) |")
    step_e, step_c = steps.median("eager"), steps.median("compiled")
    eval_e, eval_c = evals.median("eager"), evals.median("compiled")
    print("\n| per call | eager s (median) | compiled s (median) | compiled/eager (median of pairs) "
          "| min–max |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(
        f"| training step | {step_e:.4f} | {step_c:.4f} | "
        f"{steps.ratio('compiled', 'eager'):.3f} | {steps.spread('compiled', 'eager')} |"
    )
    print(
        f"| evaluation | {eval_e:.4f} | {eval_c:.4f} | "
        f"{evals.ratio('compiled', 'eager'):.3f} | {evals.spread('compiled', 'eager')} |"
    )
    saved = step_e - step_c
    cold_total = cold_train[0] + cold_eval[0]
    if saved > 0:
        print(
            f"\nthe first compile ({cold_total:.1f} s) is paid back after "
            f"{cold_total / saved:,.0f} steps ({saved * 1000:.2f} ms saved a step)"
        )
    else:
        print(f"\ncompiled steps are not faster here: the {cold_total:.1f} s compile never pays")
    if device.type == "cuda" and args.paper and spec.algorithm == "fixmatch":
        card = torch.cuda.get_device_name(device)
        for name, seconds in (("eager", step_e), ("compiled", step_c)):
            ms = seconds * 1000
            print(
                f"FixMatch WRN-28-2 μ=7 step on {card}, {name}: {ms:.1f} ms — "
                f"{verdict(ms, GPU_STEP_MS, higher_is_better=False)} (the target is for an H100)"
            )


class Metrics(Callback):
    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_epoch_end(self, end: EpochEnd) -> None:
        self.epochs.append(end.metrics)


def check_algorithms(args: argparse.Namespace) -> None:
    print("| algorithm | largest loss difference, compiled − eager | compile s per epoch |")
    print("|---|---|---|")
    for name in args.algorithms.split(","):
        base = {"algorithm": name, "epochs": 2, "iters_per_epoch": 2, "batch_size": 8,
                "eval_batch_size": 256, "device": args.device}  # fmt: skip
        runs = {}
        for compiled in (False, True):
            runs[compiled] = Metrics()
            train({**base, "compile": compiled}, callbacks=[runs[compiled]])
        worst = max(
            abs(c[key] - e[key])
            for e, c in zip(runs[False].epochs, runs[True].epochs, strict=True)
            for key in e
            if is_loss(key)
        )
        seconds = ", ".join(f"{m[COMPILE_SECONDS]:.1f}" for m in runs[True].epochs)
        print(f"| {name} | {worst:.2e} | {seconds} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = apply_machine_args(args)
    torch.manual_seed(0)
    print(f"# compile_speed: {machine_line(device)}")
    if args.check_algorithms:
        check_algorithms(args)
        return 0
    if args.keep_cache:
        measure(args, device)
        return 0
    from torch._inductor.utils import fresh_cache

    with fresh_cache():  # a temporary inductor (and Triton) cache dir, removed afterwards
        measure(args, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Target 4: peak RSS of a FixMatch WRN-28-2 training process against the bare network.

Each side runs in its own fresh child process (peak RSS is per process and never goes down),
reporting ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after a few steps:
  - fixmatch: a ``Trainer`` (paper batch sizes: 64 labeled + 2 × 448 unlabeled rows) over
    synthetic CIFAR-10-sized data (50,000 + 10,000 uint8 images), ``make_batch`` + ``train_step``;
  - bare: the same network, channels_last, the same optimiser, forward + backward + step on
    the same 960 random rows, nothing else;
  - bare_tuned: the same, with ssl_core's glibc malloc settings (``keep_small_blocks_mapped``,
    which a CPU ``DeviceData`` applies) so both sides allocate alike: a second, stricter ratio;
  - import: Python with torch and ssl_core imported, for the fixed cost both include.
Target: fixmatch / bare <= 1.2.

    .venv/bin/python bench/memory.py [--steps 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

TARGET = 1.2


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(kind: str, steps: int, quick: bool) -> dict:
    import torch
    from common import bench_spec, floor_rows, make_trainer, synthetic_raw

    from ssl_core.trainer import make_optimizer

    torch.manual_seed(0)
    extra = {"net": "cnn_small", "batch_size": 8, "num_val_per_class": 10} if quick else {}
    spec = bench_spec("fixmatch", "cpu", **extra)
    if kind == "import":
        return {"peak_mib": peak_mib()}
    if kind == "fixmatch":
        raw = synthetic_raw(per_class=60, test_per_class=10) if quick else synthetic_raw()
        trainer = make_trainer(spec, raw)
        del raw  # as in a real run, the loaded arrays go once the device copies exist
        rows = floor_rows(trainer)[0]
        for _ in range(steps):
            trainer.train_step(trainer.make_batch())
        return {"peak_mib": peak_mib(), "rows": rows}
    from ssl_core.data.loader import keep_small_blocks_mapped
    from ssl_core.nets import build_net

    if kind == "bare_tuned":
        keep_small_blocks_mapped()

    info = spec.dataset_info
    model = build_net(spec.net, info.num_classes, info.channels).to(
        memory_format=torch.channels_last
    )
    optimizer = make_optimizer(spec, model)
    rows = spec.batch_size * (1 + 2 * spec.uratio)
    x = torch.randn(rows, info.channels, info.image_size, info.image_size)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, info.num_classes, (rows,))
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {"peak_mib": peak_mib(), "rows": rows}


def run_child(kind: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--child", kind, "--steps", str(args.steps)]
    if args.quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1, help="child pairs (peak RSS is not noisy)")
    p.add_argument("--quick", action="store_true", help="cnn_small, B=8, tiny data")
    p.add_argument(
        "--child", choices=["fixmatch", "bare", "bare_tuned", "import"], help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.quick)))
        return 0
    import torch
    from common import machine_line, verdict

    print(f"# memory: {machine_line(torch.device('cpu'))}")
    base = run_child("import", args)["peak_mib"]
    print(
        "| run | rows | peak RSS MiB: fixmatch | bare | bare, same malloc settings "
        "| fixmatch/bare | fixmatch/bare (same malloc) |"
    )
    print("|---|---|---|---|---|---|---|")
    for i in range(args.repeats):
        ours, bare, tuned = (run_child(k, args) for k in ("fixmatch", "bare", "bare_tuned"))
        ratio, strict = ours["peak_mib"] / bare["peak_mib"], ours["peak_mib"] / tuned["peak_mib"]
        print(
            f"| {i + 1} | {ours['rows']} | {ours['peak_mib']:.0f} | {bare['peak_mib']:.0f} "
            f"| {tuned['peak_mib']:.0f} | {ratio:.3f} {verdict(ratio, TARGET, False)} "
            f"| {strict:.3f} {verdict(strict, TARGET, False)} |",
            flush=True,
        )
    print(f"\npython + torch + ssl_core imported: {base:.0f} MiB peak RSS (in both figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

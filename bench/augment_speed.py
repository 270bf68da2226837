"""Target 3: matchlab's batched strong augmentation against torchvision's per-image PIL path.

Both sides turn the same sampled uint8 CIFAR-shaped images into the strong view a FixMatch step
trains on (flip, 4-px reflect-pad crop, RandAugment with 2 ops, Cutout of half the side,
normalise) and produce one batch tensor:
  - matchlab: ``DeviceData.sample_unlabeled`` + ``DeviceData.strong`` (whole batch on the device);
  - torchvision, the usual path (FixMatch-pytorch / USB style): per image ``Image.fromarray``
    (what torchvision's CIFAR10 does in __getitem__), RandomHorizontalFlip, RandomCrop,
    ``transforms.RandAugment(num_ops=2)``, a PIL Cutout (grey square), ToTensor, Normalize, then
    ``torch.stack`` (the DataLoader's collate).
Timed in interleaved rounds in one process. On the CPU both work on one core (DeviceData
augments with one intra-op thread; PIL is single-threaded). Target: >= 20x images/s.

    .venv/bin/python bench/augment_speed.py [--images 448] [--rounds 15] [--device cuda]
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np
import torch
from common import (
    add_machine_args,
    apply_machine_args,
    bench_spec,
    interleaved,
    machine_line,
    synthetic_raw,
    verdict,
)
from PIL import Image, ImageDraw
from torchvision import transforms as T

from ssl_core.data import DeviceData

TARGET = 20.0


class PILCutout:
    """FixMatch-pytorch's CutoutAbs: a grey square of ``fraction`` × side at a random centre."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def __call__(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        v = self.fraction * w
        x0 = int(max(0, random.uniform(0, w) - v / 2.0))
        y0 = int(max(0, random.uniform(0, h) - v / 2.0))
        x1, y1 = int(min(w, x0 + v)), int(min(h, y0 + v))
        img = img.copy()
        ImageDraw.Draw(img).rectangle((x0, y0, x1, y1), (127, 127, 127))
        return img


def torchvision_strong(mean: tuple, std: tuple, cutout: float) -> T.Compose:
    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomCrop(32, padding=4, padding_mode="reflect"),
            T.RandAugment(num_ops=2),
            PILCutout(cutout),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--images", type=int, default=448, help="images per batch (FixMatch's μB)")
    p.add_argument("--rounds", type=int, default=15, help="timed rounds")
    add_machine_args(p)
    p.add_argument("--profile", action="store_true", help="torch.profiler table of matchlab's path")
    p.add_argument("--quick", action="store_true", help="64 images, 2 rounds")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.rounds = 64, 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = apply_machine_args(args)
    spec = bench_spec("fixmatch", args.device, num_val_per_class=10)
    raw = synthetic_raw(per_class=500, test_per_class=1)
    data = DeviceData(spec, device, raw=raw)
    hp = spec.hparams
    pool = data.unlabeled_x.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (N, H, W, C)
    info = spec.dataset_info
    tv = torchvision_strong(info.mean, info.std, hp.cutout_fraction)
    n = args.images

    def matchlab() -> None:
        u = data.sample_unlabeled(n)
        data.strong(u.images, hp.strong_augment_ops, hp.cutout_fraction)

    def torchvision() -> None:
        index = np.random.randint(0, len(pool), n)
        torch.stack([tv(Image.fromarray(pool[i])) for i in index])

    if args.profile:
        from torch.profiler import profile

        with profile() as prof:
            for _ in range(10):
                matchlab()
        print(f"# torch.profiler, matchlab's strong view of {n} images × 10 calls, by self time")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        return 0
    fns = {"matchlab": matchlab, "torchvision": torchvision}
    rounds = interleaved(fns, args.rounds, device, warmup=2)
    print(f"# augment_speed: {machine_line(device)}")
    print(f"# strong view of {n} images per call, {args.rounds} interleaved rounds")
    print("| path | images/s (median) | vs torchvision (median of rounds) | verdict |")
    print("|---|---|---|---|")
    tv_rate = n / rounds.median("torchvision")
    print(f"| torchvision per-image PIL, 1 process | {tv_rate:,.0f} | 1 | |")
    # On the CPU DeviceData augments with one intra-op thread (see ssl_core.data.loader), so
    # this is a per-core comparison: PIL works on one core too.
    where = "one thread" if device.type == "cpu" else torch.cuda.get_device_name(device)
    speedup = rounds.ratio("torchvision", "matchlab")
    print(
        f"| matchlab batched (DeviceData.strong, {where}) | {n / rounds.median('matchlab'):,.0f} "
        f"| {speedup:.1f} ({rounds.spread('torchvision', 'matchlab')}) "
        f"| {verdict(speedup, TARGET, higher_is_better=True)} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

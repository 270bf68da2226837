"""Target 3: matchlab's batched strong augmentation against torchvision's per-image PIL path.

Both sides turn the same sampled uint8 CIFAR-shaped images into the strong view a FixMatch step
trains on (flip, 4-px reflect-pad crop, RandAugment with 2 ops, Cutout of half the side,
normalise) and produce one batch tensor:
  - matchlab: ``DeviceData.sample_unlabeled`` + ``DeviceData.strong`` (whole batch on the device);
  - torchvision, the usual path (FixMatch-pytorch / USB style): per image ``Image.fromarray``
    (what torchvision's CIFAR10 does in __getitem__), RandomHorizontalFlip, RandomCrop,
    ``transforms.RandAugment(num_ops=2)``, a PIL Cutout (grey square), ToTensor, Normalize, then
    ``torch.stack`` (the DataLoader's collate).
Timed in interleaved rounds in one process. matchlab runs with torch's threads (all cores);
PIL works on one core, so a second line gives matchlab limited to one thread too (per-core).
Target: >= 20x images/s.

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

    def matchlab_one_thread() -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            matchlab()
        finally:
            torch.set_num_threads(threads)

    def torchvision() -> None:
        index = np.random.randint(0, len(pool), n)
        torch.stack([tv(Image.fromarray(pool[i])) for i in index])

    fns = {"matchlab": matchlab, "torchvision": torchvision}
    if device.type == "cpu":
        fns["matchlab_1_thread"] = matchlab_one_thread
    rounds = interleaved(fns, args.rounds, device, warmup=2)
    print(f"# augment_speed: {machine_line(device)}")
    print(f"# strong view of {n} images per call, {args.rounds} interleaved rounds")
    print("| path | images/s (median) | vs torchvision (median of rounds) | verdict |")
    print("|---|---|---|---|")
    tv_rate = n / rounds.median("torchvision")
    print(f"| torchvision per-image PIL, 1 process | {tv_rate:,.0f} | 1 | |")
    for name, label in [
        ("matchlab", f"matchlab batched, {torch.get_num_threads()} threads ({device.type})"),
        ("matchlab_1_thread", "matchlab batched, 1 thread"),
    ]:
        if name not in fns:
            continue
        speedup = rounds.ratio("torchvision", name)
        print(
            f"| {label} | {n / rounds.median(name):,.0f} | {speedup:.1f} "
            f"({rounds.spread('torchvision', name)}) "
            f"| {verdict(speedup, TARGET, higher_is_better=True)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

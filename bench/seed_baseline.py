"""Target 2: the seed tutorial's MixMatch iteration and evaluation loop beside matchlab's.

Same rows on both sides: matchlab's run (the ``tutorial`` preset: 120 labels, B = 64, μ = 1,
K = 2, Adam 0.002, EMA 0.9, crop + flip + noise) and the seed's code (bench/seed_mixmatch.py)
are given the same synthetic CIFAR-shaped images. Timed in interleaved rounds in one process:
  - one MixMatch iteration: seed vs matchlab (target: matchlab >= 1.4x faster), with the compute
    floor (bare forward + backward of the 192 mixed rows and the no-grad forward of the 128
    guessed rows, channels_last) for reference;
  - evaluation: the seed's loop (batch size 1) vs ``ssl_core.evaluate.evaluate`` (target:
    >= 2.5x images/s) vs a bare channels_last no-grad forward of the EMA model in batches of
    ``eval_batch_size`` over the same number of images (target: matchlab >= 0.9x its images/s).

    .venv/bin/python bench/seed_baseline.py [--steps 5] [--eval-rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from common import (
    FloorStep,
    add_machine_args,
    apply_machine_args,
    interleaved,
    machine_line,
    synthetic_raw,
    verdict,
)
from seed_mixmatch import (
    Labeled_CIFAR10,
    Loss_Semisupervised,
    ToTensor,
    Transform_Twice,
    Unlabeled_CIFAR10,
    WeightEMA,
    WideResNet,
    accuracy,
    interleave,
    transform_train,
)
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from ssl_core.contract.spec import build_spec
from ssl_core.epoch_meter import EpochMeter
from ssl_core.evaluate import evaluate
from ssl_core.trainer import Trainer, autocast_for

STEP_TARGET, EVAL_TARGET, BARE_TARGET = 1.4, 2.5, 0.9
# The seed's MixMatch_parser defaults (In [21]).
SEED_ARGS = SimpleNamespace(
    n_labeled=128, num_iter=128, alpha=0.75, lambda_u=75.0, T=0.5, ema_decay=0.9,
    epochs=5, batch_size=64, lr=0.002,
)  # fmt: skip


class SeedMixMatch:
    """MixMatchTrainer.train's loop body as one ``step()`` and its ``validate`` as written."""

    def __init__(self, args: Any, labeled: Dataset, unlabeled: Dataset, device: torch.device):
        self.args, self.device = args, device
        self.labeled_loader = DataLoader(
            labeled, batch_size=args.batch_size, shuffle=True, num_workers=0, drop_last=True
        )
        self.unlabeled_loader = DataLoader(
            unlabeled, batch_size=args.batch_size, shuffle=True, num_workers=0, drop_last=True
        )
        self.model = WideResNet(num_classes=10).to(device)
        self.ema_model = WideResNet(num_classes=10).to(device)
        for param in self.ema_model.parameters():
            param.detach_()
        self.criterion_train = Loss_Semisupervised()
        self.criterion_val = nn.CrossEntropyLoss().to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.ema_optimizer = WeightEMA(self.model, self.ema_model, lr=args.lr, alpha=args.ema_decay)
        self.iter_labeled = iter(self.labeled_loader)
        self.iter_unlabeled = iter(self.unlabeled_loader)
        self.batch_idx, self.epoch = 0, 1
        self.losses_t = self.losses_x = self.losses_u = self.ws = 0.0
        self.model.train()

    def step(self) -> None:
        args, dev = self.args, self.device
        try:
            inputs_x, targets_x = next(self.iter_labeled)
        except StopIteration:
            self.iter_labeled = iter(self.labeled_loader)
            inputs_x, targets_x = next(self.iter_labeled)
        real_B = inputs_x.size(0)
        targets_x = torch.zeros(real_B, 10).scatter_(1, targets_x.view(-1, 1).long(), 1)
        inputs_x, targets_x = inputs_x.to(dev), targets_x.to(dev)
        try:
            tmp_inputs, _ = next(self.iter_unlabeled)
        except StopIteration:
            self.iter_unlabeled = iter(self.unlabeled_loader)
            tmp_inputs, _ = next(self.iter_unlabeled)
        inputs_u1, inputs_u2 = tmp_inputs[0].to(dev), tmp_inputs[1].to(dev)
        with torch.no_grad():
            outputs_u1 = self.model(inputs_u1)
            outputs_u2 = self.model(inputs_u2)
            pt = (torch.softmax(outputs_u1, dim=1) + torch.softmax(outputs_u2, dim=1)) / 2
            pt = pt ** (1 / args.T)
            targets_u = (pt / pt.sum(dim=1, keepdim=True)).detach()
        inputs = torch.cat([inputs_x, inputs_u1, inputs_u2], dim=0)
        targets = torch.cat([targets_x, targets_u, targets_u], dim=0)
        l_mixup = np.random.beta(args.alpha, args.alpha)
        l_mixup = max(l_mixup, 1 - l_mixup)
        random_idx = torch.randperm(inputs.size(0))
        mixed_input = l_mixup * inputs + (1 - l_mixup) * inputs[random_idx]
        mixed_target = l_mixup * targets + (1 - l_mixup) * targets[random_idx]
        mixed_input = interleave(list(torch.split(mixed_input, real_B)), real_B)
        logits = [self.model(mixed_input[0])]
        for part in mixed_input[1:]:
            logits.append(self.model(part))
        logits = interleave(logits, real_B)
        logits_x, logits_u = logits[0], torch.cat(logits[1:], dim=0)
        loss_x, loss_u, w = self.criterion_train(
            args,
            logits_x,
            mixed_target[:real_B],
            logits_u,
            mixed_target[real_B:],
            self.epoch + self.batch_idx / args.num_iter,
        )
        loss = loss_x + w * loss_u
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.ema_optimizer.step()
        self.losses_x += loss_x.item()
        self.losses_u += loss_u.item()
        self.losses_t += loss.item()
        self.ws += w
        self.batch_idx += 1

    @torch.no_grad()
    def validate(self, data_loader: DataLoader) -> tuple[float, float, float]:
        self.ema_model.eval()
        losses, top1s, top5s = 0.0, [], []
        batch_idx = 0
        for batch_idx, (inputs, targets) in enumerate(data_loader):  # noqa: B007 — as the seed
            targets = targets.type(torch.LongTensor)
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            outputs = self.ema_model(inputs)
            loss = self.criterion_val(outputs, targets)
            prec1, prec5 = accuracy(outputs, targets, topk=(1, 5))
            losses += loss.item()
            top1s.append(prec1)
            top5s.append(prec5)
        return losses / (batch_idx + 1), float(np.mean(top1s)), float(np.mean(top5s))


def seed_datasets(trainer: Trainer) -> dict[str, Dataset]:
    """The seed's four datasets over exactly the images matchlab's run holds."""
    d = trainer.data

    def nhwc(x: torch.Tensor) -> np.ndarray:  # the seed's arrays are (N, H, W, C) uint8
        return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()

    val_transform = transforms.Compose([ToTensor()])
    return {
        "labeled": Labeled_CIFAR10(nhwc(d.labeled_x), d.labeled_y.cpu().numpy(), transform_train()),
        "unlabeled": Unlabeled_CIFAR10(
            nhwc(d.unlabeled_x), d.unlabeled_y.cpu().numpy(), Transform_Twice(transform_train())
        ),
        "val": Labeled_CIFAR10(nhwc(d.val_x), d.val_y.cpu().numpy(), val_transform),
        "test": Labeled_CIFAR10(nhwc(d.test_x), d.test_y.cpu().numpy(), val_transform),
    }


def bare_forward(trainer: Trainer, images: int) -> Any:
    """No-grad channels_last forward of the EMA model over ``images`` normalised rows."""
    info, bs = trainer.spec.dataset_info, trainer.spec.eval_batch_size
    shape = (info.channels, info.image_size, info.image_size)
    batches = [
        torch.randn(min(bs, images - i), *shape, device=trainer.device).contiguous(
            memory_format=torch.channels_last
        )
        for i in range(0, images, bs)
    ]
    model = trainer.ema.model

    def run() -> None:
        model.eval()
        with torch.no_grad(), autocast_for(trainer.spec, trainer.device):
            for x in batches:
                model(x)

    return run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="timed rounds of one iteration each")
    p.add_argument("--eval-rounds", type=int, default=3, help="timed rounds of evaluation")
    p.add_argument("--val-per-class", type=int, default=50, help="validation images per class")
    p.add_argument("--test-per-class", type=int, default=100, help="test images per class")
    add_machine_args(p)
    p.add_argument("--quick", action="store_true", help="tiny sets, one round each")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.eval_rounds, args.val_per_class, args.test_per_class = 1, 1, 5, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = apply_machine_args(args)
    per_class = 200 if args.quick else 5000
    raw = synthetic_raw(per_class=per_class, test_per_class=args.test_per_class)
    spec = build_spec(
        {"algorithm": "mixmatch", "dataset": "cifar10", "net": "wrn_28_2", "device": args.device,
         "num_val_per_class": args.val_per_class},
        preset="tutorial",
    )  # fmt: skip
    trainer = Trainer(spec, raw=raw)
    sets = seed_datasets(trainer)
    seed = SeedMixMatch(SEED_ARGS, sets["labeled"], sets["unlabeled"], device)
    meter = EpochMeter(trainer.algorithm.num_classes, device)
    print(f"# seed_baseline: {machine_line(device)}")

    def matchlab_step() -> None:
        batch = trainer.make_batch()
        meter.add(trainer.train_step(batch), batch)

    floor = FloorStep(trainer, rows=192, no_grad_rows=128)
    steps = interleaved(
        {"seed": seed.step, "matchlab": matchlab_step, "floor": floor}, args.steps, device
    )
    speedup = steps.ratio("seed", "matchlab")
    print(f"\n## MixMatch iteration (B=64, μ=1, K=2, WRN-28-2), {args.steps} rounds")
    print(
        "| seed s | matchlab s | floor s | seed/matchlab | matchlab/floor | seed/floor | verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {steps.median('seed'):.3f} | {steps.median('matchlab'):.3f} "
        f"| {steps.median('floor'):.3f} | {speedup:.2f} ({steps.spread('seed', 'matchlab')}) "
        f"| {steps.ratio('matchlab', 'floor'):.2f} | {steps.ratio('seed', 'floor'):.2f} "
        f"| {verdict(speedup, STEP_TARGET, higher_is_better=True)} |",
        flush=True,
    )

    loaders = {  # the seed's validate(): 'Train' on labeled_loader, then Valid and Test, batch 1
        "Train": seed.labeled_loader,
        "Valid": DataLoader(sets["val"], shuffle=False, num_workers=0, drop_last=False),
        "Test": DataLoader(sets["test"], shuffle=False, num_workers=0, drop_last=False),
    }
    seed_images = (
        SEED_ARGS.batch_size * len(seed.labeled_loader) + len(sets["val"]) + len(sets["test"])
    )
    ml_images = sum(len(x) for x, _ in trainer.data.eval_sets().values())

    def seed_eval() -> None:
        for loader in loaders.values():
            seed.validate(loader)

    def matchlab_eval() -> None:
        with autocast_for(spec, device):
            evaluate(trainer.ema.model, trainer.data, spec.eval_batch_size)

    evals = interleaved(
        {"seed": seed_eval, "matchlab": matchlab_eval, "bare": bare_forward(trainer, ml_images)},
        args.eval_rounds,
        device,
    )
    seed_rate = seed_images / evals.median("seed")
    ml_rate = ml_images / evals.median("matchlab")
    bare_rate = ml_images / evals.median("bare")
    vs_seed = evals.ratio("seed", "matchlab") * ml_images / seed_images
    vs_bare = evals.ratio("bare", "matchlab")
    print(
        f"\n## Evaluation, {args.eval_rounds} rounds (seed {seed_images} images, batch 1; "
        f"matchlab and bare {ml_images} images, batch {spec.eval_batch_size})"
    )
    print("| seed img/s | matchlab img/s | bare forward img/s | matchlab/seed | matchlab/bare |")
    print("|---|---|---|---|---|")
    print(
        f"| {seed_rate:.0f} | {ml_rate:.0f} | {bare_rate:.0f} "
        f"| {vs_seed:.2f} {verdict(vs_seed, EVAL_TARGET, higher_is_better=True)} "
        f"| {vs_bare:.2f} {verdict(vs_bare, BARE_TARGET, higher_is_better=True)} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

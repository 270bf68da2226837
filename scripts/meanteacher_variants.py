"""Mean Teacher on digits-40 with one thing changed, per epoch (docs/ALGORITHMS.md, Mean Teacher).

    python scripts/meanteacher_variants.py VARIANT [KEY=VALUE ...]

VARIANT is ``defaults`` (the library as it is), ``own_bn`` (the teacher keeps BatchNorm running
statistics of its own, updated by its training-mode passes, and the EMA averages parameters only:
the original Mean Teacher code) or ``teacher=A`` (the teacher is a second EMA of decay A; the
evaluated EMA keeps the spec's ``ema_decay``). KEY=VALUE are spec fields as in ``matchlab train
--set`` (``ema_decay=0.9``, ``hparams.unlabeled_weight=10``). The variants patch the library in
this process only. Prints one JSON line per epoch and a summary line.
"""

from __future__ import annotations

import json
import sys

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core import ema as ema_module
from ssl_core.algorithms import meanteacher
from ssl_core.algorithms.base import Batch, frozen_bn_stats
from ssl_core.cli import parse_value
from ssl_core.contract.spec import build_spec, set_dotted
from ssl_core.trainer import Trainer


def teacher_with_own_bn_statistics() -> None:
    @torch.no_grad()
    def update(self: ema_module.ModelEMA, model: nn.Module) -> None:
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(list(self.model.parameters()), params, 1.0 - self.decay)

    def targets(self: meanteacher.MeanTeacher, batch: Batch, model: nn.Module) -> torch.Tensor:
        self.teacher.train()  # updates its own running statistics, as the original code
        try:
            with torch.no_grad():
                return F.softmax(self.teacher(batch.u_views[0]).float(), dim=1)
        finally:
            self.teacher.eval()

    ema_module.ModelEMA.update = update
    meanteacher.MeanTeacher.targets = targets


def teacher_of_its_own_decay(decay: float) -> None:
    def targets(self: meanteacher.MeanTeacher, batch: Batch, model: nn.Module) -> torch.Tensor:
        if not hasattr(self, "own_teacher"):
            self.own_teacher = ema_module.ModelEMA(model, decay)
        else:
            self.own_teacher.update(model)  # the student after the previous step
        teacher = self.own_teacher.model.train()
        try:
            with torch.no_grad(), frozen_bn_stats(teacher):
                return F.softmax(teacher(batch.u_views[0]).float(), dim=1)
        finally:
            teacher.eval()

    meanteacher.MeanTeacher.targets = targets


def main(argv: list[str]) -> None:
    variant, overrides = argv[0], argv[1:]
    if variant == "own_bn":
        teacher_with_own_bn_statistics()
    elif variant.startswith("teacher="):
        teacher_of_its_own_decay(float(variant.partition("=")[2]))
    elif variant != "defaults":
        raise SystemExit(f"variant {variant!r}: use defaults, own_bn or teacher=DECAY")
    values = {"algorithm": "meanteacher", "dataset": "digits", "num_labels": 40}
    for item in overrides:
        key, _, text = item.partition("=")
        values = set_dotted(values, key, parse_value(text))
    spec = build_spec(values)
    trainer = Trainer(spec)
    while trainer.epoch < spec.epochs:
        m = trainer.run_epoch([])
        row = {"epoch": trainer.epoch, "val": m["val/top1"], "test": m["test/top1"]}
        row |= {"labeled": m["labeled/top1"], "pl_acc": m["train/pseudo_label_acc"]}
        print(json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
    s = trainer.summary
    print(json.dumps({
        "variant": variant, "overrides": " ".join(overrides), "best_epoch": s["best_epoch"],
        "test_top1_at_best_val": round(s["test_top1_at_best_val"], 2),
        "last_test_top1": round(s["last_test_top1"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])

"""One run of the short-budget study (docs/STUDY_fashion_mnist_40.md), instrumented.

    python scripts/short_budget_study.py fixmatch 0 [--diagnose] [KEY=VALUE ...]

trains ``algorithm`` on Fashion-MNIST with 40 labels (spec defaults unless KEY=VALUE, dotted for
hyperparameters: ``hparams.threshold_warmup=false``) and prints one JSON line: the summary and, per
epoch, test top-1 of the EMA model, mask ratio, pseudo-label accuracy and the never-selected share.
``--diagnose`` also measures per epoch, on 2,000 fixed unlabeled images, what the raw (not EMA)
model makes of them: test top-1, accuracy of its weak-view predictions, the share confident at
0.95 / 0.8 and their accuracy, and its accuracy on strong views. The diagnostics draw from their
own random generator state and put the training's back, so the run itself is unchanged.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from ssl_core.cli import parse_value
from ssl_core.contract.callbacks import Callback, EpochEnd
from ssl_core.contract.spec import build_spec, set_dotted
from ssl_core.evaluate import evaluate
from ssl_core.trainer import Trainer

KEPT = ("test/top1", "train/mask_ratio", "train/pseudo_label_acc", "train/unseen_ratio")


@torch.inference_mode()
def diagnose(trainer: Trainer, images: torch.Tensor, labels: torch.Tensor) -> dict[str, object]:
    rng = torch.get_rng_state()
    torch.manual_seed(12345)
    model, data, hp = trainer.model, trainer.data, trainer.spec.hparams
    model.eval()
    probs = torch.softmax(model(data.weak(images)).float(), 1)
    confidence, guess = probs.max(1)
    correct = (guess == labels).float()
    out = {"raw_test": evaluate(model, data, 1024)["test/top1"], "weak_acc": correct.mean().item()}
    for tau in (0.95, 0.8):
        sure = confidence >= tau
        out[f"share>={tau}"] = sure.float().mean().item()
        out[f"acc>={tau}"] = correct[sure].mean().item() if sure.any() else float("nan")
    # Which classes FixMatch's rule (confidence >= 0.95) lets in: per true class, the share
    # admitted, and per predicted class, the share of all admitted pseudo-labels and of all
    # weak-view predictions (a skew towards a few classes is what FlexMatch's thresholds undo).
    classes = int(probs.shape[1])
    sure = confidence >= 0.95
    per_class = {
        "admitted_by_true_class": [
            sure[labels == c].float().mean().item() if (labels == c).any() else float("nan")
            for c in range(classes)
        ],
        "admitted_by_pseudo_label": (
            torch.bincount(guess[sure], minlength=classes).float() / max(int(sure.sum()), 1)
        ).tolist(),
        "predicted_share": (torch.bincount(guess, minlength=classes).float() / len(guess)).tolist(),
    }
    ops, cut = getattr(hp, "strong_augment_ops", 2), getattr(hp, "cutout_fraction", 0.5)
    strong = model(data.strong(images, ops, cut)).argmax(1)
    out["strong_acc"] = (strong == labels).float().mean().item()
    model.train()
    torch.set_rng_state(rng)
    rounded: dict[str, object] = {k: round(v, 3) for k, v in out.items()}
    rounded.update({k: [round(v, 2) for v in vs] for k, vs in per_class.items()})
    return rounded


class Recorder(Callback):
    def __init__(self, trainer: Trainer | None, probe: tuple | None) -> None:
        self.trainer, self.probe, self.rows = trainer, probe, []

    def on_epoch_end(self, end: EpochEnd) -> None:
        row = {k: round(end.metrics[k], 3) for k in KEPT if k in end.metrics}
        if self.probe is not None:
            row.update(diagnose(self.trainer, *self.probe))
        self.rows.append(row)


def main(argv: list[str]) -> None:
    algorithm, seed, rest = argv[0], int(argv[1]), argv[2:]
    probe = "--diagnose" in rest
    values = {"algorithm": algorithm, "dataset": "fashion_mnist", "num_labels": 40, "seed": seed}
    overrides = [item for item in rest if item != "--diagnose"]
    for item in overrides:
        key, _, text = item.partition("=")
        values = set_dotted(values, key, parse_value(text))
    spec = build_spec(values)
    started = time.perf_counter()
    trainer = Trainer(spec)
    picked = None
    if probe:
        index = torch.randperm(
            trainer.data.num_unlabeled, generator=torch.Generator().manual_seed(0)
        )
        index = index[:2000].to(trainer.device)
        picked = (trainer.data.unlabeled_x[index], trainer.data.unlabeled_y[index])
    recorder = Recorder(trainer, picked)
    while trainer.epoch < spec.epochs:
        metrics = trainer.run_epoch([])
        recorder.on_epoch_end(EpochEnd(trainer.epoch, trainer.step, metrics, trainer.summary))
    summary = trainer.summary
    print(json.dumps({
        "algorithm": algorithm, "seed": seed, "overrides": " ".join(overrides),
        "test_top1_at_best_val": round(summary["test_top1_at_best_val"], 2),
        "last_test_top1": round(summary["last_test_top1"], 2),
        "seconds": round(time.perf_counter() - started), "epochs": recorder.rows,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])

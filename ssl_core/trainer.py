"""The training loop: optimiser, schedule, EMA, AMP, evaluation, checkpoints, callbacks.

Algorithms only say how a loss is made (ssl_core.algorithms); everything here is shared.
``train(spec, out_dir, callbacks)`` is the one entry point the CLI and the worker call.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssl_core.algorithms import Algorithm, build_algorithm
from ssl_core.algorithms.base import Batch, StepOutput
from ssl_core.checkpoint import check_checkpoint, load_checkpoint, save_checkpoint
from ssl_core.compiling import compile_seconds, compiled, plain_state
from ssl_core.contract import metrics as keys
from ssl_core.contract.callbacks import EpochEnd, TrainingCallback, TrainStart, check_callbacks
from ssl_core.contract.hparams import strong_augment_settings
from ssl_core.contract.spec import RunSpec
from ssl_core.contract.summary import EMPTY, update_summary
from ssl_core.data import DeviceData, RawDataset
from ssl_core.ema import ModelEMA
from ssl_core.environment import describe
from ssl_core.epoch_meter import EpochMeter
from ssl_core.evaluate import evaluate
from ssl_core.nets import build_net

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for but no CUDA GPU is visible; use auto or cpu")
    return torch.device(name)


def precision_used(spec: RunSpec, device: torch.device) -> str:
    """``bf16`` autocast when asked for, or on ``auto`` on a GPU; else ``fp32``."""
    use_bf16 = spec.precision == "bf16" or (spec.precision == "auto" and device.type == "cuda")
    return "bf16" if use_bf16 else "fp32"


def autocast_for(spec: RunSpec, device: torch.device):  # noqa: ANN201 — a context manager
    if precision_used(spec, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


DECAYED_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def parameter_groups(spec: RunSpec, model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on conv and linear weights only; BatchNorm parameters and biases get none.

    The original FixMatch decays only its ``kernel`` variables, MixMatch decays kernels (there
    decoupled; here the L2 term of SGD/Adam, as USB and TorchSSL), USB (``bn_wd_skip``) and
    TorchSSL skip BatchNorm and biases. ``decay_all_params`` decays everything (what earlier
    matchlab did). Always two groups, so an optimizer state saved under either setting loads.
    """
    decayed: list[nn.Parameter] = []
    others: list[nn.Parameter] = []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            kernel = isinstance(module, DECAYED_LAYERS) and name == "weight"
            (decayed if kernel else others).append(param)
    return [
        {"params": decayed, "weight_decay": spec.weight_decay},
        {"params": others, "weight_decay": spec.weight_decay if spec.decay_all_params else 0.0},
    ]


def make_optimizer(spec: RunSpec, model: nn.Module) -> torch.optim.Optimizer:
    groups = parameter_groups(spec, model)
    if spec.optimizer == "adam":
        return torch.optim.Adam(groups, lr=spec.lr)
    return torch.optim.SGD(
        groups,
        lr=spec.lr,
        momentum=spec.momentum,
        nesterov=spec.nesterov and spec.momentum > 0,
    )


def make_schedule(
    spec: RunSpec, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LambdaLR:
    total = spec.total_steps
    if spec.lr_schedule == "cosine":
        # lr · cos(7πk / 16K): decays to about 0.2·lr at the end (FixMatch's schedule).
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: math.cos(7 * math.pi * k / (16 * total))
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0)


def set_bn_momentum(model: nn.Module, momentum: float | None) -> None:
    """The spec's BatchNorm momentum (sized to the run, ssl_core.contract.horizons) on every
    BatchNorm layer; None leaves the net's own."""
    if momentum is None:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


class Trainer:
    def __init__(
        self, spec: RunSpec, data_dir: Path | None = None, raw: RawDataset | None = None
    ) -> None:
        self.spec = spec
        self.device = resolve_device(spec.device)
        torch.manual_seed(spec.seed)
        self.data = DeviceData(spec, self.device, data_dir, raw=raw)
        info = spec.dataset_info
        self.model = build_net(spec.net, info.num_classes, info.channels).to(
            self.device, memory_format=torch.channels_last
        )
        set_bn_momentum(self.model, spec.bn_momentum)
        self.ema = ModelEMA(self.model, spec.ema_decay)
        # Steps and evaluation call these; with ``compile`` off they are the plain modules.
        # The plain ones stay what checkpoints save and the EMA averages (ssl_core.compiling).
        self.train_model = compiled(self.model, spec.compile)
        self.eval_model = compiled(self.ema.model, spec.compile, dynamic=True)
        self.algorithm: Algorithm = build_algorithm(
            spec, info.num_classes, self.data.num_unlabeled, self.device
        )
        self.algorithm.teacher = self.eval_model  # Mean Teacher's targets come from the EMA
        self.logged_keys = keys.expected_keys(spec.algorithm, info.num_classes, spec.compile)
        extra = self.algorithm.extra_modules(self.model)
        trained = (
            self.model if extra is None else nn.ModuleList([self.model, extra.to(self.device)])
        )
        self.optimizer = make_optimizer(spec, trained)
        self.schedule = make_schedule(spec, self.optimizer)
        self.step = 0
        self.epoch = 0
        self.summary: dict[str, Any] = dict(EMPTY)

    # ---- one step -------------------------------------------------------------------------

    def make_batch(self) -> Batch:
        spec, data = self.spec, self.data
        x, y = data.sample_labeled(spec.batch_size)
        batch = Batch(data.weak(x), y)
        if self.algorithm.views:
            u = data.sample_unlabeled(spec.batch_size * spec.uratio)
            strong = (*strong_augment_settings(spec.hparams), spec.strong_augment)
            batch.u_views = [
                data.weak(u.images) if view == "weak" else data.strong(u.images, *strong)
                for view in self.algorithm.views
            ]
            batch.u_index, batch.u_true = u.index, u.true_labels
        return batch

    def train_step(self, batch: Batch) -> StepOutput:
        self.train_model.train()
        with autocast_for(self.spec, self.device):
            out = self.algorithm.step(self.train_model, batch, self.step)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        self.schedule.step()
        self.ema.update(self.model)
        self.step += 1
        return out

    # ---- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "algorithm": self.algorithm.state_dict(),
            "rng": rng,
            "step": self.step,
            "epoch": self.epoch,
            "summary": self.summary,
            "spec": self.spec.to_json_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # plain_state: weights saved from a compiled wrapper load too (eager ↔ compiled).
        self.model.load_state_dict(plain_state(state["model"]))
        self.ema.model.load_state_dict(plain_state(state["ema"]))
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.algorithm.load_state_dict(state["algorithm"])
        torch.set_rng_state(state["rng"]["cpu"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.step, self.epoch, self.summary = state["step"], state["epoch"], dict(state["summary"])

    # ---- one epoch ------------------------------------------------------------------------

    def run_epoch(self, callbacks: Sequence[TrainingCallback]) -> dict[str, float] | None:
        """Train one epoch and evaluate; None when a callback asked to stop midway."""
        meter = EpochMeter(self.algorithm.num_classes, self.device)
        compiling_before = compile_seconds() if self.spec.compile else None
        started = time.perf_counter()
        images = 0
        for _ in range(self.spec.iters_per_epoch):
            batch = self.make_batch()
            meter.add(self.train_step(batch), batch)
            images += self.spec.batch_size + batch.num_unlabeled * max(len(self.algorithm.views), 1)
            for callback in callbacks:
                callback.on_step(self.step, self.spec.total_steps)
            if any(callback.should_stop() for callback in callbacks):
                return None
        seconds = time.perf_counter() - started
        metrics = meter.metrics()
        steps = (self.epoch + 1, self.step - self.spec.iters_per_epoch + 1, self.step, self.spec.lr)
        keys.check_finite(metrics, *steps)  # before evaluating a broken model
        metrics[keys.LR] = self.optimizer.param_groups[0]["lr"]
        metrics[keys.IMGS_PER_S] = images / seconds
        metrics.update(meter.class_shares())
        metrics.update({k: float(v) for k, v in self.algorithm.epoch_metrics().items()})
        with autocast_for(self.spec, self.device):
            metrics.update(evaluate(self.eval_model, self.data, self.spec.eval_batch_size))
        compiling_after = compile_seconds() if compiling_before is not None else None
        if compiling_after is not None:
            # The steps' share of it is in train/imgs_per_s too: that is what those steps took.
            metrics[keys.COMPILE_SECONDS] = compiling_after - compiling_before
        keys.check_finite(metrics, *steps)
        for key in list(metrics):  # table keys that do not apply to this algorithm stay absent
            if key not in self.logged_keys and keys.lookup(key) is not None:
                del metrics[key]
        self.epoch += 1
        self.summary = update_summary(self.summary, self.epoch, metrics)
        return metrics


def train(
    spec: RunSpec | dict[str, Any],
    out_dir: str | Path | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    resume: bool = True,
    data_dir: str | Path | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    """Train one run; returns the summary (``ssl_core.contract.callbacks`` has the callback protocol).

    ``uid``: the run's identity, stored in its checkpoints; a checkpoint in ``out_dir`` is resumed
    only when it holds this spec (and this uid, when one is given), else ``CheckpointMismatch``.
    """
    spec = spec if isinstance(spec, RunSpec) else RunSpec.model_validate(spec)
    callbacks = check_callbacks(callbacks)
    started = time.perf_counter()
    trainer = Trainer(spec, Path(data_dir) if data_dir else None)
    out = Path(out_dir) if out_dir else None
    replay: dict[str, float] | None = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        state = load_checkpoint(out / "checkpoint.pt", trainer.device) if resume else None
        if state is not None:
            check_checkpoint(state, spec, uid, out / "checkpoint.pt")  # before anything is written
        (out / "spec.json").write_text(json.dumps(spec.to_json_dict(), indent=2))
        if state is not None:
            trainer.load_state_dict(state)
            replay = state.get("last_metrics")
        _truncate_metrics(out / "metrics.jsonl", trainer.epoch, replay)
    start = TrainStart(
        total_steps=spec.total_steps,
        start_step=trainer.step,
        start_epoch=trainer.epoch,
        device=str(trainer.device),
        num_params=sum(p.numel() for p in trainer.model.parameters()),
        summary=dict(trainer.summary) if trainer.epoch else {},
        environment=describe(
            trainer.device, precision_used(spec, trainer.device), trainer.data.dataset_sha256
        ),
    )
    for callback in callbacks:
        callback.on_train_start(start)
    if replay:  # the checkpoint's epoch may not have reached the sink before a crash
        end = EpochEnd(trainer.epoch, trainer.step, replay, dict(trainer.summary))
        for callback in callbacks:
            callback.on_epoch_end(end)
    stopped = False
    while trainer.epoch < spec.epochs:
        metrics = trainer.run_epoch(callbacks)
        if metrics is None:
            stopped = True
            break
        if out is not None:
            save_checkpoint(
                out / "checkpoint.pt",
                {**trainer.state_dict(), "last_metrics": metrics, "uid": uid},
            )
            if trainer.summary.get("best_epoch") == trainer.epoch:
                # The evaluated (EMA) weights at the best validation epoch: what a user ships.
                save_checkpoint(out / BEST_CHECKPOINT, {**best_state(trainer), "uid": uid})
            with open(out / "metrics.jsonl", "a") as f:
                f.write(
                    json.dumps({"epoch": trainer.epoch, "step": trainer.step, **metrics}) + "\n"
                )
        end = EpochEnd(trainer.epoch, trainer.step, metrics, dict(trainer.summary))
        for callback in callbacks:
            callback.on_epoch_end(end)
    return {
        **trainer.summary,
        "epochs": trainer.epoch,
        "seconds": time.perf_counter() - started,
        "stopped": stopped,
    }


BEST_CHECKPOINT = "best.pt"


def best_state(trainer: Trainer) -> dict[str, Any]:
    """The EMA model's weights with what they scored and the spec that made them."""
    return {
        "ema": trainer.ema.model.state_dict(),
        "epoch": trainer.epoch,
        "step": trainer.step,
        "summary": dict(trainer.summary),
        "spec": trainer.spec.to_json_dict(),
    }


def _truncate_metrics(path: Path, epochs_done: int, last: dict[str, float] | None) -> None:
    """Make metrics.jsonl hold exactly the checkpoint's epochs: drop lines written after it, and
    add its last epoch if a crash came between the checkpoint and the line."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.strip() and json.loads(line)["epoch"] <= epochs_done]
    if last is not None and (not kept or json.loads(kept[-1])["epoch"] < epochs_done):
        kept.append(json.dumps({"epoch": epochs_done, **last}))
    if kept != lines:
        path.write_text("".join(line + "\n" for line in kept))

"""``matchlab train``: one run in the foreground with a progress bar, no server needed."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from ssl_core.contract import metrics
from ssl_core.contract.callbacks import Callback, EpochEnd, TrainStart
from ssl_core.contract.errors import CheckpointMismatch, DatasetMissing, TrainingDiverged
from ssl_core.contract.spec import (
    ALGORITHMS,
    DATASETS,
    PRESETS,
    RunSpec,
    build_spec,
    format_errors,
    set_dotted,
)
from ssl_core.contract.summary import FIELDS as SUMMARY_FIELDS


def parse_value(text: str) -> Any:
    """``--set`` values are JSON where they parse (numbers, true, null, lists), else strings."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _spec_default(field: str, words: str) -> str:
    # The spec's own default (a --preset may choose another), so --help cannot drift from it.
    return f"{words} (default: {RunSpec.model_fields[field].default}, or the preset's)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matchlab train",
        description="Train one semi-supervised run in the foreground.",
        formatter_class=DefaultsFormatter,
    )
    parser.add_argument("--algorithm", required=True, choices=ALGORITHMS)
    parser.add_argument("--dataset", default="digits", choices=list(DATASETS), help="images")
    parser.add_argument(
        "--num-labels", type=int, help=_spec_default("num_labels", "labeled images in total")
    )
    parser.add_argument("--preset", choices=list(PRESETS), help="paper or tutorial settings")
    parser.add_argument("--seed", type=int, help=_spec_default("seed", "the split and init seed"))
    parser.add_argument("--epochs", type=int, help=_spec_default("epochs", "epochs to train"))
    parser.add_argument(
        "--iters-per-epoch", type=int, help=_spec_default("iters_per_epoch", "steps per epoch")
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any spec field, dotted for algorithm fields: --set hparams.threshold=0.9",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for spec.json, metrics.jsonl, checkpoint (default: a new folder under "
        "runs/); `matchlab sync DIR` brings it into a server",
    )
    parser.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    parser.add_argument("--json", action="store_true", help="print one final JSON summary line")
    return parser


def spec_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {"algorithm": args.algorithm, "dataset": args.dataset}
    for flag in ("num_labels", "seed", "epochs", "iters_per_epoch"):
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set: expected KEY=VALUE, got {item!r}")
        values = set_dotted(values, key.strip(), parse_value(text))
    return values


class ProgressBar(Callback):
    """A tqdm bar per epoch, closed with the epoch's headline metrics."""

    def __init__(self, iters_per_epoch: int, epochs: int, quiet: bool) -> None:
        self.iters, self.epochs, self.quiet = iters_per_epoch, epochs, quiet
        self.bar: tqdm | None = None

    def on_train_start(self, start: TrainStart) -> None:
        self.epoch = start.start_epoch

    def on_step(self, step: int, total_steps: int) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=self.iters,
                desc=f"epoch {self.epoch + 1}/{self.epochs}",
                leave=not self.quiet,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self.bar.update(1)

    def on_epoch_end(self, end: EpochEnd) -> None:
        self.epoch, logged = end.epoch, end.metrics
        if self.bar is not None:
            shown = metrics.progress_keys()
            self.bar.set_postfix(
                {
                    name: shown_value(key, logged[key])
                    for name, key in shown.items()
                    if key in logged
                }
            )
            self.bar.close()
            self.bar = None


def shown_value(key: str, value: float) -> str:
    """A metric as the pages draw it: a share on a % axis (the mask ratio) as a percentage."""
    row = metrics.lookup(key)
    scale = row.scale if row else 1.0
    if row is not None and (row.unit == "%" or scale == 100.0):
        return f"{value * scale:.1f}%"
    return f"{value:.3g}"


# The folder's identity, as in a server's run folders (app/store/run_files.py): `matchlab sync`
# makes it the imported run's uid, so a checkpoint trained here resumes on a server's worker.
IDENTITY_FILE = "run.json"


def folder_uid(out: Path) -> str | None:
    """The uid in ``out/run.json``; a new one written there for a new folder; None for a folder
    trained before folders had one (its checkpoint holds none, and must still resume)."""
    try:
        uid = json.loads((out / IDENTITY_FILE).read_text()).get("uid")
        if isinstance(uid, str) and len(uid) == 32:
            return uid
    except (OSError, ValueError, AttributeError):
        pass
    if (out / "checkpoint.pt").exists():
        return None
    uid = uuid.uuid4().hex
    out.mkdir(parents=True, exist_ok=True)
    (out / IDENTITY_FILE).write_text(json.dumps({"uid": uid}) + "\n")
    return uid


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = build_spec(spec_values(args), preset=args.preset)
    except (ValidationError, ValueError) as error:
        print(f"invalid run spec:\n{format_errors(error)}", file=sys.stderr)
        return 2
    out = (
        args.out
        or Path("runs")
        / f"{spec.algorithm}-{spec.dataset}-{spec.num_labels}-s{spec.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if (out / "checkpoint.pt").exists() and not args.resume:
        print(
            f"{out} already holds a checkpoint: pass --resume to continue it, or another --out",
            file=sys.stderr,
        )
        return 2
    uid = folder_uid(out)
    if not args.json:
        # Said before torch loads (seconds): the command answers at once.
        print(
            f"{spec.algorithm} on {spec.dataset}, {spec.num_labels} labels: {spec.epochs} "
            f"epoch{'s' if spec.epochs != 1 else ''} × {spec.iters_per_epoch} steps, files in "
            f"{out}; loading PyTorch…",
            file=sys.stderr,
            flush=True,
        )
    from ssl_core.trainer import train  # torch loads only once the spec is known to be valid

    try:
        summary = train(
            spec,
            out,
            callbacks=[ProgressBar(spec.iters_per_epoch, spec.epochs, args.json)],
            uid=uid,
        )
    except (CheckpointMismatch, DatasetMissing, TrainingDiverged) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    accuracies = [f for f in SUMMARY_FIELDS if f.unit == "%"]
    result = {k: summary[k] for k in [*(f.key for f in accuracies), "epochs", "seconds"]}
    if args.json:
        print(json.dumps(result))
    else:
        said = ", ".join(f"{f.label} {result[f.key]:.2f} %" for f in accuracies)
        print(
            f"{spec.algorithm} on {spec.dataset} ({spec.num_labels} labels): {said} — "
            f"{result['seconds']:.0f} s; files in {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``matchlab submit`` and ``matchlab sweep``: a run, a grid or a search queued on a server.

The spec comes from flags (``--set hparams.threshold=0.9``) on top of an optional preset; the
server validates it and answers field by field. Only the standard library and ``app.client``
load here, so the commands answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import get_settings
from matchlab.remote import DefaultsFormatter

if TYPE_CHECKING:
    from app.client import Client


def parse_value(text: str) -> Any:
    """Values are JSON where they parse (numbers, true, null, lists), else plain strings."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"{flag}: expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def parse_grid_values(text: str) -> list[Any]:
    """``0.9,0.95`` → [0.9, 0.95]; a JSON list (``[["crop"],["crop","flip"]]``) as written."""
    if text.lstrip().startswith("["):
        values = parse_value(text)
        if isinstance(values, list):
            return values
    return [parse_value(part.strip()) for part in text.split(",") if part.strip()]


def spec_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The spec from ``--file``, then the shortcut flags, then each ``--set key=value``."""
    from ssl_core.contract.spec import set_dotted

    values: dict[str, Any] = {}
    if args.file:
        values = json.loads(Path(args.file).read_text())
        if not isinstance(values, dict):
            raise SystemExit(f"{args.file}: a run spec must be a JSON object")
    for field in (
        "algorithm",
        "dataset",
        "num_labels",
        "seed",
        "epochs",
        "iters_per_epoch",
        "name",
    ):
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
    for item in args.set or []:
        key, value = parse_assignment(item, "--set")
        values = set_dotted(values, key, parse_value(value))
    return values


def add_spec_flags(parser: argparse.ArgumentParser) -> None:
    from ssl_core.contract.spec import ALGORITHMS, DATASETS, PRESETS

    parser.add_argument(
        "--url", help="matchlab server (default: MATCHLAB_URL, else http://127.0.0.1:8000)"
    )
    parser.add_argument("--file", help="a JSON run spec; the flags below override it")
    parser.add_argument("--preset", choices=list(PRESETS))
    parser.add_argument("--algorithm", choices=ALGORITHMS)
    parser.add_argument("--dataset", choices=list(DATASETS))
    parser.add_argument("--num-labels", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--iters-per-epoch", type=int)
    parser.add_argument("--name")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any spec field, e.g. hparams.threshold=0.9",
    )


def client_for(args: argparse.Namespace) -> Client:
    from app.client import Client

    return Client(args.url or get_settings().url, token=get_settings().api_token)


def cmd_submit(args: argparse.Namespace) -> int:
    from app.client import MatchlabError

    with client_for(args) as lab:
        try:
            run = lab.submit(spec_from_args(args), preset=args.preset)
        except MatchlabError as error:
            print(f"not submitted: {error}", file=sys.stderr)
            return 2
        print(f"run {run['id']} {run['status']}: {lab.run_url(run['id'])}")
        if not args.wait:
            return 0
        run = lab.wait(run["id"], on_update=_progress_line)
        print(f"\nrun {run['id']} {run['status']}", json.dumps(run["summary"] or {}))
        if run["error_line"]:
            print(run["error_line"], file=sys.stderr)
        return 0 if run["status"] == "succeeded" else 1


def _progress_line(run: dict[str, Any]) -> None:
    print(
        f"\r{run['status']:<9} epoch {run['epoch']} step {run['step']}/{run['total_steps']}",
        end="",
        flush=True,
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from app.client import MatchlabError

    grid = {}
    for item in args.grid or []:
        key, values = parse_assignment(item, "--grid")
        grid[key] = parse_grid_values(values)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    with client_for(args) as lab:
        try:
            if args.method != "grid":
                return _search(args, lab, seeds)
            sweep = lab.sweep(spec_from_args(args), grid, seeds, args.sweep_name, args.preset)
        except (MatchlabError, ValueError) as error:
            print(f"not submitted: {error}", file=sys.stderr)
            return 2
        print(f"sweep {sweep['id']} ({len(sweep['runs'])} runs): {lab.url}/sweeps/{sweep['id']}")
        for run in sweep["runs"]:
            print(f"  run {run['id']}: {run['name']}")
    return 0


def parse_dimension(item: str) -> tuple[str, dict[str, Any]]:
    """``lr=log_uniform:1e-4:1`` or ``hparams.unlabeled_weight=choice:0.5,1,2``."""
    key, text = parse_assignment(item, "--space")
    kind, _, rest = text.partition(":")
    if kind == "choice":
        return key, {"type": kind, "values": parse_grid_values(rest)}
    low, _, high = rest.partition(":")
    number = int if kind == "int" else float
    try:
        return key, {"type": kind, "low": number(low), "high": number(high)}
    except ValueError:
        raise ValueError(f"--space {item}: write KEY={kind}:LOW:HIGH") from None


def _search(args: argparse.Namespace, lab: Any, seeds: list[int] | None) -> int:
    space = dict(parse_dimension(item) for item in args.space or [])
    budget = {k: v for k, v in (("configs", args.configs), ("steps", args.steps)) if v}
    sweep = lab.search(
        spec_from_args(args), space, seeds or [0], budget, args.method, args.parallel,
        args.sweep_name, args.preset, args.sampler_seed,
    )  # fmt: skip
    print(f"{args.method} search {sweep['id']}: {lab.url}/sweeps/{sweep['id']}")
    for trial in sweep["trials"]:
        print(f"  trial {trial['number']}: {trial['params']}")
    return 0


def add_commands(commands: Any) -> None:
    """Add ``submit`` and ``sweep`` to the ``matchlab`` parser's subcommands."""
    kw = {"formatter_class": DefaultsFormatter}
    submit = commands.add_parser("submit", help="queue one run on a matchlab server", **kw)
    add_spec_flags(submit)
    submit.add_argument("--wait", action="store_true", help="wait and print the summary")
    submit.set_defaults(func=cmd_submit)

    sweep = commands.add_parser("sweep", help="queue base spec × grid × seeds", **kw)
    add_spec_flags(sweep)
    sweep.add_argument(
        "--grid", action="append", metavar="KEY=V1,V2", help="e.g. hparams.threshold=0.9,0.95"
    )
    sweep.add_argument("--seeds", help="comma-separated, e.g. 0,1,2")
    sweep.add_argument("--sweep-name", help="the sweep's name")
    sweep.add_argument(
        "--method", choices=("grid", "random", "tpe"), default="grid", help="default: grid"
    )
    sweep.add_argument(
        "--space", action="append", metavar="KEY=TYPE:LOW:HIGH",
        help="a search's range: lr=log_uniform:1e-4:1, hparams.threshold=uniform:0.5:0.99, "
        "epochs=int:5:20, hparams.unlabeled_weight=choice:0.5,1,2",
    )  # fmt: skip
    sweep.add_argument("--configs", type=int, help="a search's budget in configurations")
    sweep.add_argument("--steps", type=int, help="a search's budget in training steps")
    sweep.add_argument("--parallel", type=int, default=1, help="configurations at once")
    sweep.add_argument("--sampler-seed", type=int, default=0, help="same seed, same search")
    sweep.set_defaults(func=cmd_sweep)

"""The commands that talk to a matchlab server: status, runs list|show|cancel|resume|download, sync.

Only the standard library at import time: ``matchlab status`` answers before torch, Celery,
SQLAlchemy or FastAPI would have loaded (tests/app/stack/test_cli_remote.py checks it). Every request
goes through ``app.client.Client`` against MATCHLAB_URL with MATCHLAB_API_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.client import Client

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "pruned")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _client(args: argparse.Namespace) -> Client:
    from app.client import Client
    from app.config import get_settings

    settings = get_settings()
    return Client(args.url or settings.url, token=settings.api_token)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _listed_fields() -> list[Any]:
    from ssl_core.contract.summary import FIELDS

    return [field for field in FIELDS if field.listed]


def _number(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _progress(run: dict[str, Any]) -> str:
    epochs = run["spec"].get("epochs", "?")
    return f"{run['epoch']}/{epochs} · {run['progress'] * 100:.0f} %"


def table(rows: list[list[str]], headings: list[str]) -> str:
    """Plain columns, left-aligned text and right-aligned numbers, as a terminal shows them."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headings)]  # fmt: skip
    numeric = [bool(rows) and all(_numeric(r[i]) for r in rows) for i in range(len(headings))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric, strict=True)).rstrip()  # fmt: skip

    return "\n".join([line(headings), *(line(r) for r in rows)])


def _numeric(text: str) -> bool:
    return text == "—" or text.replace(".", "", 1).replace("-", "", 1).isdigit()


# -- status -------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as lab:
        health = lab.health()
        counts = lab.run_counts() if "database" in health else {}
        running = lab.runs(status="running", limit=500)["items"] if counts.get("running") else []
    if args.json:
        _print_json({"url": lab.url, **health, "runs": counts})
        return 0 if health["status"] == "ok" else 1
    print(f"server    {lab.url}: {health['status']}")
    if "database" not in health:
        print("          (details need MATCHLAB_API_TOKEN)")
        return 0 if health["status"] == "ok" else 1
    database, store, broker = health["database"], health["store"], health["broker"]
    print(f"database  {_ok(database)} {database.get('url') or database.get('error', '')}")
    free = f"{store['free_bytes'] / 1e9:.1f} GB free" if "free_bytes" in store else ""
    print(f"store     {_ok(store)} {free or store.get('error', '')}")
    queued = broker.get("queued_messages")
    print(f"redis     {_ok(broker)} " + (f"queue {queued}" if broker["ok"] else broker["error"]))
    busy: dict[str, int] = {}
    for run in running:
        busy[run.get("worker") or "?"] = busy.get(run.get("worker") or "?", 0) + 1
    workers = health["workers"]
    print(f"workers   {len(workers)}" + ("" if workers else " (queued runs wait for one)"))
    for worker in workers:
        slots = worker.get("slots")
        used = busy.get(worker["name"], 0)
        print(f"  {worker['name']}: {used} of {slots if slots else '?'} slots training")
    print("runs      " + " · ".join(f"{s} {counts.get(s, 0)}" for s in STATUSES))
    return 0 if health["status"] == "ok" else 1


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _ok(part: dict[str, Any]) -> str:
    return "ok  " if part.get("ok") else "DOWN"


# -- runs ---------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    with _client(args) as lab:
        page = lab.runs(status=args.status, tag=args.tag, where=args.where, limit=args.limit)
    if args.json:
        _print_json(page)
        return 0
    fields = _listed_fields()
    headings = ["id", "name", "algorithm", "dataset", "status", "epoch · progress",
                *(f.heading for f in fields)]  # fmt: skip
    rows = [
        [str(r["id"]), r["name"], r["spec"]["algorithm"], r["spec"]["dataset"], r["status"],
         _progress(r), *(_number((r["summary"] or {}).get(f.key), f.digits) for f in fields)]
        for r in page["items"]
    ]  # fmt: skip
    print(table(rows, headings))
    shown = len(page["items"])
    if page["total"] > shown:
        print(f"({shown} of {page['total']} runs; --limit N for more)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ssl_core.contract.summary import FIELDS

    with _client(args) as lab:
        run = lab.get(args.run_id)
        sizes = {which: lab.checkpoint_size(args.run_id, which) for which in ("last", "best")}
        url = lab.run_url(run["id"])
    if args.json:
        _print_json({**run, "checkpoints": sizes})
        return 0
    spec = run["spec"]
    print(f"run {run['id']}  {run['name']}  ({url})")
    print(f"status     {run['status']}" + (f": {run['error_line']}" if run["error_line"] else ""))
    print(f"training   {spec['algorithm']} on {spec['dataset']}, {spec.get('num_labels')} labels, "
          f"seed {spec.get('seed')}")  # fmt: skip
    print(f"progress   epoch {_progress(run)}, step {run['step']} of {run['total_steps']}")
    if run.get("worker"):
        print(f"worker     {run['worker']}" + (f" ({run['device']})" if run.get("device") else ""))
    for moment in ("created_at", "started_at", "finished_at"):
        if run.get(moment):
            print(f"{moment.removesuffix('_at'):<10} {run[moment]}")
    summary = run["summary"] or {}
    for field in FIELDS:
        unit = " %" if field.unit == "%" else ""
        shown = _number(summary.get(field.key), field.digits)
        print(f"{field.label:<24} {shown}{unit if shown != '—' else ''}")
    for which, size in sizes.items():
        if size is None:
            print(f"checkpoint {which:<5} none")
        else:
            hint = f"matchlab runs download {run['id']} --which {which}"
            print(f"checkpoint {which:<5} {_size(size)}: {hint}")
    print("spec       " + json.dumps(spec, indent=2).replace("\n", "\n           "))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as lab:
        run = lab.cancel(args.run_id)
    if args.json:
        _print_json(run)
    elif run["status"] == "cancelled":
        print(f"run {run['id']} cancelled")
    else:
        print(f"run {run['id']} stops within a few seconds (it keeps its metrics)")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    with _client(args) as lab:
        run = lab.resume(args.run_id)
        url = lab.run_url(run["id"])
    if args.json:
        _print_json(run)
    else:
        print(f"run {run['id']} {run['status']}: continues after epoch {run['epoch']} ({url})")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    name = {"last": "checkpoint.pt", "best": "best.pt"}[args.which]
    target = Path(args.output or f"run{args.run_id}-{name}")
    bar: tqdm | None = None

    def start(total: int) -> None:
        nonlocal bar
        bar = tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=target.name, file=sys.stderr)  # fmt: skip

    with _client(args) as lab:
        try:
            lab.download(args.run_id, target, args.which, on_start=start,
                         on_chunk=lambda n: bar.update(n) if bar else None)  # fmt: skip
        finally:
            if bar is not None:
                bar.close()
    print(target)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    with _client(args) as lab:
        try:
            run = lab.import_folder(args.folder, checkpoint=not args.no_checkpoint)
        except FileNotFoundError as error:
            print(f"matchlab sync: {error}", file=sys.stderr)
            return 2
        url = lab.run_url(run["id"])
    if args.json:
        _print_json(run)
    else:
        print(f"run {run['id']} {run['status']} ({run['epoch']} epochs): {url}")
    return 0


def _with_url(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--url", help="matchlab server (default: MATCHLAB_URL, else http://127.0.0.1:8000)"
    )
    return parser


def add_commands(commands: Any) -> None:
    """``status``, ``runs …`` and ``sync`` on the ``matchlab`` parser's subcommands."""
    kw = {"formatter_class": DefaultsFormatter}
    status = _with_url(commands.add_parser("status", help="what the server has: health, "
                                           "workers and their slots, runs by status", **kw))  # fmt: skip
    status.add_argument("--json", action="store_true", help="the health JSON and run counts")
    status.set_defaults(func=cmd_status)

    runs = commands.add_parser("runs", help="list, show, cancel, resume or download runs", **kw)
    actions = runs.add_subparsers(dest="action", required=True)
    listing = _with_url(actions.add_parser("list", help="a table of runs, newest first", **kw))
    listing.add_argument("--status", choices=STATUSES, help="only runs in this status")
    listing.add_argument("--tag", action="append", help="only runs with this tag (repeatable)")
    listing.add_argument("--where", metavar="EXPR",
                         help="filter clauses, e.g. \"lr<0.05 and hparams.threshold=0.95\"")  # fmt: skip
    listing.add_argument("--limit", type=int, default=50, help="at most this many runs")
    listing.add_argument("--json", action="store_true", help="the API's JSON page")
    listing.set_defaults(func=cmd_list)
    for name, func, words in (
        ("show", cmd_show, "one run: status, progress, summary, checkpoints and spec"),
        ("cancel", cmd_cancel, "stop a queued or running run (it keeps its metrics)"),
        ("resume", cmd_resume, "continue a cancelled or failed run from its last checkpoint"),
    ):
        action = _with_url(actions.add_parser(name, help=words, **kw))
        action.add_argument("run_id", type=int, metavar="ID")
        action.add_argument("--json", action="store_true", help="the run JSON")
        action.set_defaults(func=func)
    download = _with_url(actions.add_parser("download", help="save a run's checkpoint", **kw))
    download.add_argument("run_id", type=int, metavar="ID")
    download.add_argument("--which", choices=("last", "best"), default="last",
                          help="last: the resumable training state; best: the EMA weights at "
                          "the best validation epoch")  # fmt: skip
    download.add_argument("-o", "--output", metavar="PATH",
                          help="where to save it (default: run<ID>-<file> here)")  # fmt: skip
    download.set_defaults(func=cmd_download)

    sync = _with_url(commands.add_parser(
        "sync", help="bring a `matchlab train --out DIR` folder into the server as a run", **kw))  # fmt: skip
    sync.add_argument("folder", type=Path, metavar="DIR")
    sync.add_argument("--no-checkpoint", action="store_true",
                      help="leave checkpoint.pt and best.pt behind (the run cannot be resumed)")  # fmt: skip
    sync.add_argument("--json", action="store_true", help="the run JSON")
    sync.set_defaults(func=cmd_sync)

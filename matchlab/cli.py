"""The ``matchlab`` command: up, web, worker, train, submit, sweep, status, runs, sync, db.

Heavy imports happen inside the commands: ``matchlab submit`` must not load torch or Celery.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import TYPE_CHECKING

from app.config import get_settings, unknown_variables_warning
from matchlab import remote, submit
from matchlab.remote import DefaultsFormatter

if TYPE_CHECKING:
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text!r}")
    return value


def open_database() -> None:
    """Create or upgrade the tables before serving; a refused database stops here, in words."""
    from app.store.db import get_engine
    from app.store.migrate import DatabaseTooNew

    try:
        get_engine()
    except DatabaseTooNew as error:
        raise SystemExit(f"matchlab: {error}") from None


def bind_warning(host: str, token: str | None) -> str | None:
    """A sentence when ``host`` lets other machines in and no token guards the server."""
    if token:
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:  # a name: only localhost is known to stay on this machine
        if host.lower() == "localhost":
            return None
    return (
        f"warning: listening on {host} without MATCHLAB_API_TOKEN: anyone who can reach this "
        "port can read, launch and delete runs; set a token (README: Security)"
    )


def warn_about_settings(host: str | None = None) -> None:
    """At a server's start: misspelled MATCHLAB_* variables, and an open non-loopback bind."""
    import os

    for warning in (
        unknown_variables_warning(os.environ),
        bind_warning(host, get_settings().api_token) if host is not None else None,
    ):
        if warning:
            print(warning, file=sys.stderr, flush=True)


def cmd_web(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    # The app (built by the factory in this process) allows the bound host's name by default.
    os.environ["MATCHLAB_BIND_HOST"] = args.host
    get_settings.cache_clear()
    open_database()
    warn_about_settings(args.host)

    # SSE streams stay open; do not let them hold a shutdown for long.
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        timeout_graceful_shutdown=3,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import os

    from app.queue import QUEUE
    from worker.slots import THREADS_ENV, plan_for_this_machine, pool_args

    open_database()
    warn_about_settings()
    plan = plan_for_this_machine(args.slots, args.threads)
    print(f"matchlab worker: {plan.describe()}", flush=True)
    # Pool processes inherit it: each training takes its thread budget (worker/slots.py).
    os.environ[THREADS_ENV] = str(plan.threads)
    from worker.celery_app import celery_app

    name = args.name or f"matchlab-{os.getpid()}@%h"
    celery_app.worker_main(
        [
            "worker", *pool_args(plan), f"--loglevel={args.loglevel}",
            "--queues", QUEUE, "--hostname", name, "--without-gossip", "--without-mingle",
        ]
    )  # fmt: skip
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from app.stack.launcher import up

    open_database()
    return up(args.host, args.port, demo=args.demo, slots=args.slots)


def cmd_db(args: argparse.Namespace) -> int:
    from app.store.migrate import db_command

    return db_command(args.action, get_settings().db_url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matchlab",
        description="Run and compare semi-supervised image classifiers.",
        formatter_class=DefaultsFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    kw = {"formatter_class": DefaultsFormatter}

    up = commands.add_parser(
        "up", help="Redis (if none answers), a worker and the web server", **kw
    )
    web = commands.add_parser("web", help="the web server (pages and /api)", **kw)
    for sub in (up, web):
        sub.add_argument("--host", default="127.0.0.1", help="address to listen on")
        sub.add_argument("--port", type=int, default=8000, help="port to listen on")
    up.add_argument("--demo", action="store_true", help="queue the four-algorithm digits demo")
    up.set_defaults(func=cmd_up)
    web.set_defaults(func=cmd_web)

    worker = commands.add_parser(
        "worker",
        help="train queued runs, N at a time (one worker per GPU: CUDA_VISIBLE_DEVICES)",
        **kw,
    )
    worker.add_argument("--name", help="Celery node name (default matchlab-<pid>@<host>)")
    worker.add_argument("--loglevel", default="INFO", help="Celery's log level")
    for sub in (up, worker):
        sub.add_argument(
            "--slots", type=_positive_int, default=None, metavar="N",
            help="trainings at once (default: from the cores, the GPU's free memory and the "
            "nets waiting; each gets cores ÷ N threads)",
        )  # fmt: skip
    worker.add_argument(
        "--threads", type=_positive_int, default=None, metavar="T",
        help="torch threads per training (default: cores ÷ slots)",
    )  # fmt: skip
    worker.set_defaults(func=cmd_worker)

    commands.add_parser("train", help="one run in the foreground, no server (see train --help)")

    submit.add_commands(commands)
    remote.add_commands(commands)

    db = commands.add_parser(
        "db", help="the database schema: upgrade it, or show its revision", **kw
    )
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from ssl_core.cli import main as train_main  # torch loads only for this command

        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    from app.client import MatchlabError

    try:
        return args.func(args)
    except MatchlabError as error:  # an unreachable server, or a refusal while waiting
        print(f"matchlab {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

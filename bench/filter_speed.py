"""Latency of a runs page (``crud.list_runs``, as ``GET /api/runs`` and the runs page call it)
at many runs, on SQLite and PostgreSQL side by side: the unfiltered newest-first page, a
``where=`` filter sorted by a summary metric, and ``tag=`` on the oldest runs. Every filtered
answer's ``total`` is checked against the count the data was made with (exact, not capped).
Runs are bulk-inserted into a fresh database (PostgreSQL: a new database, dropped afterwards).

    .venv/bin/python bench/filter_speed.py                     # 10^5 runs, both databases
    .venv/bin/python bench/filter_speed.py --runs 20000 --databases sqlite --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from app.store import crud
from app.store.db import make_engine
from app.store.models import Run, utcnow

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
ALGORITHMS = ("fixmatch", "flexmatch", "mixmatch")
QUERIES: dict[str, dict[str, Any]] = {
    "unfiltered page": {},
    "where + sort": {
        "where": "test_top1_at_best_val > 90 and algorithm in (fixmatch, flexmatch)",
        "sort": "best_val_top1",
    },
    "tag=old": {"tags": ["old"]},
    "where or": {"where": "hparams.threshold == 0.8 or best_val_top1 >= 99"},
}


def row(i: int, start: Any) -> dict[str, Any]:
    algorithm = ALGORITHMS[i % 3]
    hparams = {"threshold": (0.8, 0.9, 0.95)[(i // 3) % 3]} if algorithm != "mixmatch" else {}
    spec = {"algorithm": algorithm, "seed": i % 4, "lr": 0.03, "hparams": hparams}
    summary = None if i % 10 == 9 else {
        "test_top1_at_best_val": (i * 37) % 1000 / 10, "best_val_top1": i % 100,
    }  # fmt: skip
    return {
        "uid": uuid.uuid4().hex, "name": f"run {i}", "status": "succeeded",
        "algorithm": algorithm, "dataset": "cifar10", "spec": spec, "summary": summary,
        "tags": ["old"] if i < 100 else None, "epoch": 0, "step": 0, "total_steps": 1,
        "cancel_requested": False, "recoveries": 0, "clock_step": 0,
        "created_at": start + timedelta(seconds=i),
    }  # fmt: skip


def expected_totals(n: int) -> dict[str, int]:
    rows = [row(i, utcnow()) for i in range(n)]
    top = [(r["summary"] or {}).get("test_top1_at_best_val") or 0 for r in rows]
    best = [(r["summary"] or {}).get("best_val_top1") or 0 for r in rows]
    return {
        "unfiltered page": n,
        "where + sort": sum(
            t > 90 and r["algorithm"] != "mixmatch" for t, r in zip(top, rows, strict=True)
        ),
        "tag=old": min(n, 100),
        "where or": sum(
            r["spec"]["hparams"].get("threshold") == 0.8 or b >= 99
            for r, b in zip(rows, best, strict=True)
        ),
    }


def fill(url: str, n: int) -> Any:
    engine = make_engine(url)
    start = utcnow() - timedelta(days=365)
    with engine.begin() as connection:
        for at in range(0, n, 10_000):
            connection.execute(insert(Run), [row(i, start) for i in range(at, min(n, at + 10_000))])
    return engine


def measure(engine: Any, repeats: int, totals: dict[str, int]) -> dict[str, float]:
    p50 = {}
    for name, query in QUERIES.items():
        times = []
        for _ in range(repeats):
            with Session(engine) as session:
                began = time.perf_counter()
                runs, total = crud.list_runs(session, limit=50, **query)
                times.append(time.perf_counter() - began)
            if total != totals[name]:
                raise SystemExit(f"{name}: total {total}, expected {totals[name]}")
        p50[name] = statistics.median(times) * 1000
    return p50


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default=POSTGRES, help="an admin URL; a new database is made")
    args = p.parse_args(argv)
    totals = expected_totals(args.runs)
    results: dict[str, dict[str, float]] = {}
    for database in args.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                engine = fill(f"sqlite:///{folder}/bench.db", args.runs)
                results[database] = measure(engine, args.repeats, totals)
                engine.dispose()
            continue
        import psycopg

        admin = psycopg.connect(args.postgres, autocommit=True)
        name = f"matchlab_filter_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f"CREATE DATABASE {name}")
        try:
            engine = fill(args.postgres.rsplit("/", 1)[0] + f"/{name}", args.runs)
            results[database] = measure(engine, args.repeats, totals)
            engine.dispose()
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            admin.close()
    names = list(results)
    print(f"{args.runs:,} runs, p50 of {args.repeats} (ms), page of 50, exact totals checked")
    print(f"{'query':<18}{'total':>8}" + "".join(f"{n:>12}" for n in names))
    for query in QUERIES:
        cells = "".join(f"{results[n][query]:>12.1f}" for n in names)
        print(f"{query:<18}{totals[query]:>8}" + cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())

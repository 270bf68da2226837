"""The ``where=`` / ``tag=`` filters and summary sorts run in the database, exactly, on SQLite
and PostgreSQL: 25,000 runs (more than any cap on how many runs a filter looks through), each
clause checked against what a user would read into it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import crud
from app.store.db import make_engine
from app.store.models import Run, utcnow

ADMIN_URL = os.environ.get(
    "MATCHLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
N = 25_000
ALGORITHMS = ("fixmatch", "flexmatch", "mixmatch")


def row(i: int) -> dict[str, Any]:
    """Run ``i`` (id ``i + 1``; 0 is the oldest)."""
    algorithm = ALGORITHMS[i % 3]
    hparams = {"threshold": (0.8, 0.9, 0.95)[(i // 3) % 3]} if algorithm != "mixmatch" else {}
    spec = {
        "algorithm": algorithm,
        "seed": i % 4,
        "nesterov": i % 7 == 0,
        "weak_augment": ["crop", "flip"] if i % 2 else ["crop"],
        "hparams": hparams,
    }
    summary = None
    if i % 10 != 9:
        summary = {"test_top1_at_best_val": (i * 37) % 1000 / 10, "best_val_top1": i % 100}
    tags = ["old"] if i < 100 else (["ablation", "Keep"] if i % 50 == 0 else None)
    return {"i": i, "name": f"run {i}", "status": "succeeded" if i % 5 else "failed",
            "spec": spec, "summary": summary, "tags": tags, "algorithm": algorithm}  # fmt: skip


ROWS = [row(i) for i in range(N)]


def _insert(engine: Engine) -> None:
    start = utcnow() - timedelta(days=400)
    values = [
        {
            "uid": uuid.uuid4().hex,
            "name": r["name"],
            "status": r["status"],
            "algorithm": r["algorithm"],
            "dataset": "cifar10",
            "spec": r["spec"],
            "summary": r["summary"],
            "tags": r["tags"],
            "epoch": 0,
            "step": 0,
            "total_steps": 1,
            "cancel_requested": False,
            "recoveries": 0,
            "clock_step": 0,
            "created_at": start + timedelta(minutes=r["i"]),
        }  # fmt: skip
        for r in ROWS
    ]
    with engine.begin() as connection:
        for at in range(0, N, 5000):
            connection.execute(insert(Run), values[at : at + 5000])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path_factory.mktemp('filters')}/runs.db")
        _insert(made)
        yield made
        made.dispose()
        return
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    name = f"matchlab_filters_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    made = None
    try:
        made = make_engine(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        _insert(made)
        yield made
    finally:
        if made is not None:
            made.dispose()
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def listed(engine: Engine, limit: int = 50, **query: Any) -> tuple[list[int], int]:
    with Session(engine) as session:
        runs, total = crud.list_runs(session, limit=limit, **query)
        return [run.id for run in runs], total


def newest(matching: Callable[[dict[str, Any]], bool], limit: int = 50) -> tuple[list[int], int]:
    ids = [r["i"] + 1 for r in reversed(ROWS) if matching(r)]
    return ids[:limit], len(ids)


def summary(r: dict[str, Any], key: str) -> Any:
    return (r["summary"] or {}).get(key)


def threshold(r: dict[str, Any]) -> Any:
    return r["spec"]["hparams"].get("threshold")


def test_tag_finds_the_oldest_runs(engine):
    ids, total = listed(engine, tags=["old"], limit=500)
    assert (sorted(ids), total) == (list(range(1, 101)), 100)
    assert listed(engine, where="tag = old", limit=500)[1] == 100


def test_a_summary_comparison_finds_every_matching_run(engine):
    expected = newest(lambda r: (summary(r, "test_top1_at_best_val") or 0) > 97, limit=1000)
    assert expected[1] > 500  # spread over all 25,000 runs, old ones included
    assert listed(engine, where="test_top1_at_best_val > 97", limit=1000) == expected


CASES: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("hparams.threshold == 0.8", lambda r: threshold(r) == 0.8),
    ("hparams.threshold = 0.9", lambda r: threshold(r) == 0.9),
    # != needs the field: mixmatch runs have no threshold and do not match.
    ("hparams.threshold != 0.8", lambda r: threshold(r) in (0.9, 0.95)),
    ("best_val_top1 > 50 or seed = 1",
     lambda r: (summary(r, "best_val_top1") or 0) > 50 or r["spec"]["seed"] == 1),
    ("algorithm in (fixmatch, flexmatch)", lambda r: r["algorithm"] != "mixmatch"),
    ("algorithm not in (fixmatch)", lambda r: r["algorithm"] != "fixmatch"),
    ("(seed = 1 or seed = 2) and test_top1_at_best_val >= 50",
     lambda r: r["spec"]["seed"] in (1, 2) and (summary(r, "test_top1_at_best_val") or 0) >= 50),
    # and binds tighter than or
    ("seed = 1 or seed = 2 and algorithm = mixmatch",
     lambda r: r["spec"]["seed"] == 1 or (r["spec"]["seed"] == 2 and r["algorithm"] == "mixmatch")),
    ("test_top1_at_best_val = null", lambda r: r["summary"] is None),
    ("test_top1_at_best_val != null", lambda r: r["summary"] is not None),
    ("seed in (1, 3) and nesterov = true",
     lambda r: r["spec"]["seed"] in (1, 3) and r["spec"]["nesterov"]),
    ("weak_augment = crop", lambda r: r["spec"]["weak_augment"] == ["crop"]),
    ("weak_augment ~ FLIP", lambda r: "flip" in r["spec"]["weak_augment"]),
    ("status = SUCCEEDED", lambda r: r["status"] == "succeeded"),
    ("name ~ run 123", lambda r: "run 123" in r["name"]),
    ("tag != old", lambda r: "old" not in (r["tags"] or [])),
    ("tag = null", lambda r: not r["tags"]),
    ("tag != null and tag not in (old)", lambda r: bool(r["tags"]) and "old" not in r["tags"]),
    ("tag ~ kee or tag in (old)", lambda r: bool(r["tags"])),
]  # fmt: skip


@pytest.mark.parametrize(("where", "matching"), CASES, ids=[c[0] for c in CASES])
def test_each_clause_means_what_it_says(engine, where, matching):
    assert listed(engine, where=where) == newest(matching)


@pytest.mark.parametrize("descending", [True, False])
def test_sorting_by_a_summary_metric_puts_runs_without_it_last(engine, descending):
    key = "test_top1_at_best_val"
    ids, total = listed(engine, where="tag = old", sort=key, descending=descending, limit=100)
    old = [r for r in ROWS[:100]]
    have = sorted((r for r in old if r["summary"]), key=lambda r: (-r["summary"][key], -r["i"])
                  if descending else (r["summary"][key], -r["i"]))  # fmt: skip
    missing = sorted((r["i"] for r in old if not r["summary"]), reverse=True)
    assert total == 100
    assert ids == [r["i"] + 1 for r in have] + [i + 1 for i in missing]

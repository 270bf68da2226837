"""Crafted input never reaches a 500: numbers that are not ASCII digits or are out of range,
values of the wrong type, NUL characters, deep nesting and LIKE wildcards are refused with a 422
that names the field (or, for a search, matched literally)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.main import create_app
from app.store.db import get_engine
from app.store.models import Run

HUGE = "9" * 5000
BEYOND_INT64 = str(2**63 + 1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def stored_runs(settings: Settings) -> int:
    with Session(get_engine(settings)) as session:
        return len(session.exec(select(Run)).all())


# (method, path, request keyword arguments, the field the 422 must name)
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "superscript run id": ("GET", "/api/runs/²", {}, "run_id"),
    "5,000-digit run id": ("GET", f"/api/runs/{HUGE}", {}, "run_id"),
    "run id beyond int64": ("GET", f"/api/runs/{BEYOND_INT64}", {}, "run_id"),
    "superscript run page": ("GET", "/runs/²", {}, "run_id"),
    "huge id on its metrics": ("GET", f"/api/runs/{BEYOND_INT64}/metrics", {}, "run_id"),
    "cancel a huge id": ("POST", f"/api/runs/{BEYOND_INT64}/cancel", {}, "run_id"),
    "superscript in compare": ("GET", "/api/compare?runs=1,²", {}, "runs"),
    "5,000 digits in compare": ("GET", f"/api/compare?runs={HUGE}", {}, "runs"),
    "superscript page number": ("GET", "/?page=²", {}, "page"),
    "5,000-digit page number": ("GET", f"/?page={HUGE}", {}, "page"),
    "superscript sweep filter": ("GET", "/?sweep=²", {}, "sweep"),
    "sweep filter beyond int64": ("GET", f"/?sweep={BEYOND_INT64}", {}, "sweep"),
    "superscript sweep id": ("GET", "/api/sweeps/²", {}, "sweep_id"),
    "after beyond int64": ("GET", f"/api/runs/1/events?after={BEYOND_INT64}", {}, "after"),
    "superscript Last-Event-ID": (
        "GET", "/api/runs/1/events", {"headers": {"Last-Event-ID": "²".encode()}}, "Last-Event-ID",
    ),
    "5,000-digit Last-Event-ID": (
        "GET", "/api/runs/1/events", {"headers": {"Last-Event-ID": HUGE}}, "Last-Event-ID",
    ),
    "a list for the algorithm with a preset": (
        "POST", "/api/runs?preset=tutorial", {"json": {"algorithm": ["mixmatch"]}}, "algorithm",
    ),
    "a list for the sweep's base seed": (
        "POST", "/api/sweeps",
        {"json": {"base": {"algorithm": "fixmatch", "seed": [1]}, "grid": {}}}, "seed",
    ),
    "NUL in a run name": (
        "POST", "/api/runs", {"json": {"algorithm": "fixmatch", "name": "a\x00b"}}, "name",
    ),
    "NUL in notes": (
        "POST", "/api/runs", {"json": {"algorithm": "fixmatch", "notes": "\x00"}}, "notes",
    ),
    "NUL in a sweep name": (
        "POST", "/api/sweeps",
        {"json": {"name": "x\x00", "base": {"algorithm": "fixmatch"}, "grid": {}}}, "name",
    ),
    "NUL in a search": ("GET", "/api/runs?q=a%00b", {}, "q"),
    "huge validation split": (
        "POST", "/api/runs", {"json": {"algorithm": "fixmatch", "num_val_per_class": 10**30}},
        "num_val_per_class",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_crafted_input_is_a_422_naming_the_field(client: TestClient, settings: Settings, case):
    method, path, kwargs, field = CASES[case]
    response = client.request(method, path, **kwargs)
    assert response.status_code == 422, (case, response.status_code, response.text[:300])
    assert field in response.text, (case, response.text[:300])
    assert stored_runs(settings) == 0


def test_a_huge_validation_split_says_what_fits(client: TestClient):
    body = {"algorithm": "fixmatch", "num_val_per_class": 10**30}
    detail = client.post("/api/runs", json=body).json()["detail"]
    text = json.dumps(detail)
    assert "-9" not in text  # not "at most -9999…840 labels fit"


def test_a_run_page_for_an_unknown_algorithm_is_a_422(client: TestClient):
    response = client.get("/runs/new?algorithm=x")
    assert response.status_code == 422, response.text[:300]
    assert "algorithm" in response.text and "fixmatch" in response.text


def test_a_sweep_form_nested_100k_deep_is_refused(client: TestClient, settings: Settings):
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post(
        "/sweeps/new", data={"name": "deep", "base": deep, "grid_key_0": "", "grid_values_0": ""}
    )
    assert response.status_code == 422, response.text[:300]
    assert "base" in response.text
    assert stored_runs(settings) == 0


def test_like_wildcards_in_a_search_match_literally(client: TestClient):
    for name in ("plain", "100% labels", "under_score"):
        client.post("/api/runs", json={"algorithm": "fixmatch", "name": name}).raise_for_status()

    def names(q: str) -> list[str]:
        return sorted(r["name"] for r in client.get("/api/runs", params={"q": q}).json()["items"])

    assert names("%%%") == []
    assert names("%") == ["100% labels"]
    assert names("_") == ["under_score"]
    assert names("plain") == ["plain"]

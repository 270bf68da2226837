"""One request cannot take the server's memory: caps on keys and points, one query per key set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.main import create_app
from app.store import limits
from tests.app.conftest import add_points


def make_runs(client, n: int) -> list[int]:
    body = {"algorithm": "fixmatch"}
    return [client.post("/api/runs", json=body | {"seed": i}).json()["id"] for i in range(n)]


def messages(response) -> str:
    return " ".join(e["message"] for e in response.json()["detail"])


def test_compare_refuses_more_keys_than_the_cap_naming_it(client, engine):
    (run_id,) = make_runs(client, 1)
    keys = ",".join(f"k/{i}" for i in range(6000))
    response = client.get(f"/api/compare?runs={run_id}&keys={keys}")
    assert response.status_code == 422
    assert f"6000 keys asked, at most {limits.MAX_COMPARE_KEYS}" in messages(response)
    assert response.json()["detail"][0]["field"] == "keys"


def test_run_metrics_refuses_more_keys_than_a_run_may_log(client, engine):
    (run_id,) = make_runs(client, 1)
    keys = ",".join(f"k/{i}" for i in range(limits.MAX_KEYS_PER_RUN + 1))
    response = client.get(f"/api/runs/{run_id}/metrics?keys={keys}")
    assert response.status_code == 422
    assert f"at most {limits.MAX_KEYS_PER_RUN}" in messages(response)


def test_answers_over_the_points_cap_are_refused_before_reading(client, engine, monkeypatch):
    monkeypatch.setattr(limits, "MAX_POINTS", 100)
    a, b = make_runs(client, 2)
    add_points(engine, a, "val/top1", [float(i) for i in range(60)])
    add_points(engine, b, "val/top1", [float(i) for i in range(60)])
    for url in (
        f"/api/compare?runs={a},{b}",
        f"/api/compare/table?runs={a},{b}",
        f"/api/compare?runs={a},{b}&max_points=2",  # thinning what is sent reads as much
    ):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "120 points asked" in messages(response) and "at most 100" in messages(response)
    # One run alone fits.
    assert client.get(f"/api/compare?runs={a}").status_code == 200
    assert client.get(f"/api/runs/{a}/metrics").status_code == 200
    add_points(engine, a, "val/loss", [1.0] * 60)
    for url in (f"/api/runs/{a}/metrics", f"/api/runs/{a}/metrics.csv"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "at most 100" in messages(response)


@pytest.fixture
def statements(client) -> Iterator[list[str]]:
    """Every SQL statement SQLite runs on the web server's connections from now on."""
    seen: list[str] = []
    engine = client.app.state.engine
    engine.dispose()

    def trace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(engine, "connect", trace)
    yield seen
    event.remove(engine, "connect", trace)
    engine.dispose()


def test_compare_reads_points_in_a_few_queries_whatever_the_runs(client, engine, statements):
    ids = make_runs(client, 40)
    add_points(engine, ids[0], "val/top1", [1.0, 2.0])
    statements.clear()
    keys = ",".join(["val/top1", "val/loss", "test/top1"])
    response = client.get(f"/api/compare?runs={','.join(map(str, ids))}&keys={keys}&group_by=none")
    assert response.status_code == 200
    reads = [s for s in statements if "metric_points" in s]
    # 40 runs × 3 keys would be 120 series reads; runs without points cost nothing.
    assert len(reads) <= 6, reads


def test_run_page_opens_with_the_keys_that_fit(settings, engine, monkeypatch):
    monkeypatch.setattr(limits, "MAX_POINTS", 100)
    with TestClient(create_app(settings)) as pages:
        run_id = pages.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
        add_points(engine, run_id, "train/loss", [1.0] * 60)
        add_points(engine, run_id, "val/top1", [1.0] * 60)
        response = pages.get(f"/runs/{run_id}")
        assert response.status_code == 200

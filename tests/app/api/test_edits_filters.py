"""After launch: edit name/notes/tags, act on many runs, cancel or delete a whole sweep; and the
filter grammar (``where=``, ``tag=``) of GET /api/runs."""

from __future__ import annotations

import pytest

from app.store.models import Status, utcnow
from tests.app.conftest import set_run


def make(client, **spec) -> int:
    response = client.post("/api/runs", json={"algorithm": "fixmatch", **spec})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def names(client, **params) -> list[str]:
    response = client.get("/api/runs", params=params)
    assert response.status_code == 200, response.text
    return sorted(r["name"] for r in response.json()["items"])


def test_edit_name_notes_and_tags_after_launch(client):
    run_id = make(client, name="first", notes="n")
    edited = client.patch(f"/api/runs/{run_id}", json={"name": "renamed", "tags": ["a", "b", "a"]})
    assert edited.status_code == 200
    body = edited.json()
    assert body["name"] == "renamed" and body["spec"]["name"] == "renamed"
    assert body["tags"] == ["a", "b"] and body["spec"]["notes"] == "n"
    assert client.patch(f"/api/runs/{run_id}", json={"notes": None}).json()["spec"]["notes"] is None
    refused = client.patch(f"/api/runs/{run_id}", json={"lr": 0.1})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "lr"
    refused = client.patch(f"/api/runs/{run_id}", json={"tags": [""]})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "tags.0"
    assert client.get(f"/api/runs/{run_id}").json()["tags"] == ["a", "b"]


def test_bulk_actions_report_per_run(client, engine):
    queued, done, running = make(client, name="q"), make(client, name="d"), make(client, name="r")
    set_run(engine, done, status=Status.succeeded)
    set_run(engine, running, status=Status.running)
    tagged = client.post(
        "/api/runs/bulk", json={"ids": [queued, done], "action": "tag", "tag": "x"}
    )
    assert [r["ok"] for r in tagged.json()["results"]] == [True, True]
    assert names(client, tag="x") == ["d", "q"]
    deleted = client.post("/api/runs/bulk", json={"ids": [done, running, 999], "action": "delete"})
    results = {r["id"]: r for r in deleted.json()["results"]}
    assert (
        results[done]["ok"]
        and not results[running]["ok"]
        and "running" in results[running]["detail"]
    )
    assert results[999] == {"id": 999, "ok": False, "detail": "not found"}
    cancelled = client.post("/api/runs/bulk", json={"ids": [queued], "action": "cancel"})
    assert cancelled.json()["results"][0]["detail"] == "cancelled"
    assert client.post("/api/runs/bulk", json={"ids": [queued], "action": "zap"}).status_code == 422
    assert client.post("/api/runs/bulk", json={"ids": [], "action": "tag"}).status_code == 422


def test_cancel_and_delete_a_whole_sweep(client, engine, settings):
    body = {"name": "s", "base": {"algorithm": "fixmatch"}, "grid": {"lr": [0.01, 0.02, 0.03]}}
    sweep = client.post("/api/sweeps", json=body).json()
    ids = [r["id"] for r in sweep["runs"]]
    set_run(engine, ids[0], status=Status.running, heartbeat_at=utcnow())
    assert client.delete(f"/api/sweeps/{sweep['id']}").status_code == 409  # one trains
    results = client.post(f"/api/sweeps/{sweep['id']}/cancel").json()["results"]
    assert {r["id"]: r["detail"] for r in results} == {
        ids[0]: "stopping",
        ids[1]: "cancelled",
        ids[2]: "cancelled",
    }
    set_run(engine, ids[0], status=Status.cancelled)
    assert client.delete(f"/api/sweeps/{sweep['id']}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep['id']}").status_code == 404
    assert all(client.get(f"/api/runs/{i}").status_code == 404 for i in ids)
    assert client.post("/api/sweeps/999/cancel").status_code == 404


@pytest.fixture
def grid(client, engine) -> None:
    for name, threshold, top1 in [("t80", 0.8, 88.0), ("t90", 0.9, 91.5), ("t95", 0.95, 93.0)]:
        run_id = make(client, name=name, hparams={"threshold": threshold})
        set_run(engine, run_id, status=Status.succeeded, summary={"test_top1_at_best_val": top1})
    make(client, name="mm", algorithm="mixmatch")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("hparams.threshold >= 0.9", ["t90", "t95"]),
        ("hparams.threshold >= 0.9 and test_top1_at_best_val > 92", ["t95"]),
        ("test_top1_at_best_val <= 91.5", ["t80", "t90"]),
        ("algorithm = mixmatch", ["mm"]),
        ("algorithm != fixmatch", ["mm"]),
        ("name ~ T9", ["t90", "t95"]),
        ("hparams.threshold = 0.9", ["t90"]),
        ("status = queued", ["mm"]),
        ("weak_augment = crop", ["mm", "t80", "t90", "t95"]),  # digits: crop only
        ("hparams.threshold == 0.8", ["t80"]),  # == reads as =
        ("hparams.threshold != 0.8", ["t90", "t95"]),  # mm has no threshold: no match
        ("test_top1_at_best_val > 92 or algorithm = mixmatch", ["mm", "t95"]),
        ("algorithm in (mixmatch, flexmatch)", ["mm"]),
        ("(name ~ t9 or name = MM) and hparams.threshold > 0.9", ["t95"]),
        ("test_top1_at_best_val = null", ["mm"]),
        ("name = 't80' or name in ('t95')", ["t80", "t95"]),
    ],
)
def test_where_filters_on_spec_fields_and_summary_metrics(client, grid, where, expected):
    assert names(client, where=where) == expected
    total = client.get("/api/runs", params={"where": where, "limit": 1}).json()["total"]
    assert total == len(expected)


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("lr 0.1", "field op value"),
        ("nope > 1", "unknown field 'nope'"),
        ("lr > big", "needs a number"),
        ("tag ~", "field op value"),
        ("tag > x", "needs a number"),
        ("hparams.threshold = = 0.8", "needs a value"),
        ("(seed = 1 or seed = 2", "missing ')'"),
        ("seed = 1 or", "expected a field"),
        ("seed in 1", "needs a list in parentheses"),
        ("best_val_top1 > 50 or nope = 1", "unknown field 'nope'"),
        ("seed not = 1", "needs an op"),
        ("name ~ null", "name = null"),
        ("seed = 1; drop table runs", "seed needs a number"),
        ("seed = '1'", "seed needs a number"),
        ("nesterov = yes", "needs a true/false"),
    ],
)
def test_a_bad_filter_names_the_clause(client, where, words):
    response = client.get("/api/runs", params={"where": where})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["field"] == "where" and words in detail["message"]


def test_runs_sort_by_a_summary_metric_in_the_api(client, grid):
    response = client.get("/api/runs", params={"sort": "test_top1_at_best_val", "order": "asc"})
    assert [r["name"] for r in response.json()["items"]] == ["t80", "t90", "t95", "mm"]
    refused = client.get("/api/runs", params={"sort": "nope"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "sort"


def test_the_runs_page_filters_tags_and_acts_on_ticked_runs(settings, engine, grid):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings), follow_redirects=False) as pages:
        html = pages.get("/", params={"where": "hparams.threshold >= 0.9"}).text
        assert ">t90<" in html and ">t95<" in html and ">t80<" not in html
        bad = pages.get("/", params={"where": "nope = 1"})
        assert bad.status_code == 422 and "unknown field" in bad.text
        ids = [
            r["id"] for r in pages.get("/api/runs").json()["items"] if r["name"] in ("t80", "mm")
        ]
        tagged = pages.post(
            "/runs/bulk", data={"runs": ids, "action": "tag", "tag": "pick", "next": "/"}
        )
        assert tagged.status_code == 303
        html = pages.get("/", params={"tag": "pick"}).text
        assert ">t80<" in html and ">mm<" in html and ">t90<" not in html
        assert 'class="tag" href="/?tag=pick"' in html
        compare = pages.post("/runs/bulk", data={"runs": ids, "action": "compare"})
        assert compare.headers["location"] == f"/compare?runs={','.join(map(str, ids))}"
        assert pages.post("/runs/bulk", data={"action": "delete"}).status_code == 409


def test_a_retried_sweep_with_the_same_key_is_made_once(client):
    body = {"name": "s", "base": {"algorithm": "fixmatch"}, "grid": {"lr": [0.01, 0.02]}}
    key = {"Idempotency-Key": "sweep-1"}
    first = client.post("/api/sweeps", json=body, headers=key)
    again = client.post("/api/sweeps", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert [r["id"] for r in again.json()["runs"]] == [r["id"] for r in first.json()["runs"]]
    assert client.get("/api/runs").json()["total"] == 2
    other = client.post("/api/sweeps", json={**body, "grid": {"lr": [0.5]}}, headers=key)
    assert other.status_code == 422 and other.json()["detail"][0]["field"] == "Idempotency-Key"


def test_chosen_columns_show_sort_and_come_back_from_the_api(settings, client, grid):
    from fastapi.testclient import TestClient

    from app.main import create_app

    body = client.get("/api/runs", params={"columns": "hparams.threshold,test_top1_at_best_val"})
    values = {r["name"]: r["values"] for r in body.json()["items"]}
    assert values["t90"] == {"hparams.threshold": 0.9, "test_top1_at_best_val": 91.5}
    assert values["mm"] == {"hparams.threshold": None, "test_top1_at_best_val": None}
    bad = client.get("/api/runs", params={"columns": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "columns"
    with TestClient(create_app(settings)) as pages:
        html = pages.get("/", params={"columns": "hparams.threshold", "sort": "hparams.threshold",
                                      "order": "asc"}).text  # fmt: skip
    assert "hparams.threshold ↑" in html  # a sortable header, in the URL's order
    body = html[html.index('id="runs-body"') :]
    order = sorted(("t80", "t90", "t95", "mm"), key=lambda n: body.index(f">{n}</a>"))
    assert order == ["t80", "t90", "t95", "mm"]  # numbers, then missing

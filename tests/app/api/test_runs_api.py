"""Runs over HTTP: create, list, filter, page, get, cancel, retry, delete; 404/409/422."""

from __future__ import annotations

import redis
from sqlmodel import Session, func, select

from app.queue import QUEUE
from app.store.models import MetricPoint, Run, Status
from tests.app.conftest import add_points, set_run
from tests.conftest import run_folder


def count_runs(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Run)).one()


def submit(client, **spec):
    response = client.post("/api/runs", json={"algorithm": "fixmatch", **spec})
    assert response.status_code == 201, response.text
    return response.json()


def test_submit_stores_the_validated_spec_and_enqueues(client, engine, settings):
    run = submit(client, num_labels=40, epochs=3, hparams={"threshold": 0.9})
    assert run["status"] == "queued"
    assert run["name"] == "fixmatch digits-40 seed 0"
    # Defaults are filled in, so the stored spec says everything the run will do.
    assert run["spec"]["net"] == "cnn_small" and run["spec"]["uratio"] == 7
    assert run["spec"]["hparams"]["threshold"] == 0.9
    assert run["total_steps"] == 3 * run["spec"]["iters_per_epoch"]
    assert run["progress"] == 0.0 and run["eta_seconds"] is None
    assert count_runs(engine) == 1
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 1


def test_submit_with_a_preset(client):
    run = client.post("/api/runs?preset=tutorial", json={"algorithm": "mixmatch"}).json()
    assert run["spec"]["optimizer"] == "adam" and run["spec"]["lr"] == 0.002


def test_bad_spec_is_422_with_field_messages_and_stores_nothing(client, engine, settings):
    response = client.post(
        "/api/runs",
        json={"algorithm": "fixmatch", "epochs": 0, "hparams": {"threshold": 1.5}, "colour": 1},
    )
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["detail"]}
    assert set(fields) == {"epochs", "hparams.threshold", "colour"}
    assert "greater than or equal to 1" in fields["epochs"]
    assert "unknown field" in fields["colour"]
    assert count_runs(engine) == 0
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 0


def test_unknown_algorithm_and_bad_labels_name_the_field(client):
    response = client.post("/api/runs", json={"algorithm": "no-such-method"})
    assert response.json()["detail"][0]["field"] == "algorithm"
    response = client.post("/api/runs", json={"algorithm": "fixmatch", "num_labels": 45})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "num_labels"
    assert client.post("/api/runs", json=[1, 2]).status_code == 422
    response = client.post("/api/runs?preset=fancy", json={"algorithm": "fixmatch"})
    assert response.json()["detail"] == [
        {"field": "preset", "message": "unknown preset 'fancy'; valid presets: paper, tutorial"}
    ]


def test_list_filters_and_pages(client, engine):
    ids = [
        submit(client, seed=0)["id"],
        submit(client, algorithm="mixmatch", name="mixing well")["id"],
        submit(client, algorithm="supervised", dataset="digits")["id"],
        submit(client, seed=1)["id"],
    ]
    set_run(engine, ids[0], status=Status.failed, error="TrainingDiverged: nan\n\ntraceback...")
    page = client.get("/api/runs").json()
    assert page["total"] == 4 and [r["id"] for r in page["items"]] == ids[::-1]
    assert client.get("/api/runs?algorithm=fixmatch").json()["total"] == 2
    assert client.get("/api/runs?algorithm=mixmatch,supervised").json()["total"] == 2
    assert client.get("/api/runs?status=failed").json()["items"][0]["id"] == ids[0]
    assert client.get("/api/runs?status=queued&algorithm=fixmatch").json()["total"] == 1
    assert client.get("/api/runs?q=MIXING").json()["items"][0]["id"] == ids[1]
    assert client.get("/api/runs?dataset=cifar10").json()["total"] == 0
    second = client.get("/api/runs?limit=2&offset=2").json()
    assert [r["id"] for r in second["items"]] == ids[1::-1] and second["total"] == 4
    # Lists show an error's first line; the run itself has the full text.
    listed = client.get("/api/runs?status=failed").json()["items"][0]
    assert listed["error"] == listed["error_line"] == "TrainingDiverged: nan"
    assert "traceback" in client.get(f"/api/runs/{ids[0]}").json()["error"]
    bad = client.get("/api/runs?status=done")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"
    assert client.get("/api/runs?limit=0").json()["detail"][0]["field"] == "limit"


def test_get_shows_progress_and_eta(client, engine):
    from datetime import timedelta

    from app.store.models import utcnow

    run = submit(client, epochs=10, iters_per_epoch=10)
    now = utcnow()
    # 20 steps in the 10 s since this worker session began: 80 steps left ≈ 40 s.
    set_run(
        engine, run["id"], status=Status.running, step=20, clock_step=0,
        clock_at=now - timedelta(seconds=10), heartbeat_at=now, started_at=now,
    )  # fmt: skip
    got = client.get(f"/api/runs/{run['id']}").json()
    assert got["progress"] == 0.2
    assert 38 < got["eta_seconds"] <= 40
    assert client.get("/api/runs/999").status_code == 404


def test_cancel_queued_run_is_immediate(client, settings):
    run = submit(client)
    cancelled = client.post(f"/api/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 409
    assert client.post("/api/runs/999/cancel").status_code == 404


def test_cancel_running_run_sets_the_flag(client, engine):
    from app.store.models import utcnow

    run = submit(client)
    set_run(engine, run["id"], status=Status.running, heartbeat_at=utcnow())
    cancelled = client.post(f"/api/runs/{run['id']}/cancel").json()
    assert cancelled["status"] == "running" and cancelled["cancel_requested"] is True


def test_cancel_running_run_whose_worker_is_gone_is_immediate(client, engine):
    from datetime import timedelta

    from app.store.models import utcnow

    run = submit(client)
    set_run(engine, run["id"], status=Status.running, heartbeat_at=utcnow() - timedelta(hours=1))
    assert client.post(f"/api/runs/{run['id']}/cancel").json()["status"] == "cancelled"


def test_retry_makes_a_new_run_with_the_same_spec(client, engine, settings):
    run = submit(client, hparams={"threshold": 0.8})
    assert client.post(f"/api/runs/{run['id']}/retry").status_code == 409  # still queued
    set_run(engine, run["id"], status=Status.failed, error="boom")
    retry = client.post(f"/api/runs/{run['id']}/retry")
    assert retry.status_code == 201
    new = retry.json()
    assert new["id"] != run["id"] and new["retry_of"] == run["id"]
    assert new["spec"] == run["spec"] and new["status"] == "queued" and new["error"] is None
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "failed"
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 2


def test_delete_removes_run_points_and_folder_and_refuses_running(client, engine, settings):
    run = submit(client)
    add_points(engine, run["id"], "val/top1", [1.0, 2.0])
    folder = run_folder(settings, run["id"])
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"x")
    set_run(engine, run["id"], status=Status.running)
    response = client.delete(f"/api/runs/{run['id']}")
    assert response.status_code == 409 and "cancel it first" in response.json()["detail"]
    set_run(engine, run["id"], status=Status.cancelled)
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert client.get(f"/api/runs/{run['id']}").status_code == 404
    assert not folder.exists()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(MetricPoint)).one() == 0
    assert client.delete(f"/api/runs/{run['id']}").status_code == 404
    # Ids are not reused after a delete.
    assert submit(client)["id"] == run["id"] + 1


def test_api_token_guards_changes_and_reads(settings, client):
    from fastapi.testclient import TestClient

    from app.main import create_app

    guarded_settings = settings.model_copy(update={"api_token": "s3cret"})
    guarded = TestClient(create_app(guarded_settings, pages=False))
    assert guarded.post("/api/runs", json={"algorithm": "fixmatch"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (
        guarded.post("/api/runs", json={"algorithm": "fixmatch"}, headers=wrong).status_code == 401
    )
    right = {"Authorization": "Bearer s3cret"}
    assert (
        guarded.post("/api/runs", json={"algorithm": "fixmatch"}, headers=right).status_code == 201
    )
    assert guarded.get("/api/runs").status_code == 401  # reads too (tests/security has more)
    assert guarded.get("/api/runs", headers=right).status_code == 200


def test_openapi_lists_every_endpoint_of_the_design(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/runs": {"get", "post"},
        "/api/runs/{run_id}": {"get", "delete"},
        "/api/runs/{run_id}/metrics": {"get"},
        "/api/runs/{run_id}/metrics.csv": {"get"},
        "/api/runs/{run_id}/events": {"get"},
        "/api/runs/{run_id}/cancel": {"post"},
        "/api/runs/{run_id}/retry": {"post"},
        "/api/sweeps": {"get", "post"},
        "/api/sweeps/{sweep_id}": {"get"},
        "/api/compare": {"get"},
        "/api/health": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert client.get("/docs").status_code == 200


def test_idempotency_key_makes_a_retry_return_the_first_run(client, engine, settings):
    headers = {"Idempotency-Key": "submit-7f3a"}
    body = {"algorithm": "fixmatch", "epochs": 3}
    first = client.post("/api/runs", json=body, headers=headers)
    again = client.post("/api/runs", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert count_runs(engine) == 1
    assert redis.Redis.from_url(settings.redis_url).llen(QUEUE) == 1  # queued once
    # The same key with another spec is a mistake, not a retry.
    other = client.post("/api/runs", json={**body, "seed": 5}, headers=headers)
    assert other.status_code == 422
    assert other.json()["detail"][0]["field"] == "Idempotency-Key"
    assert f"run {first.json()['id']}" in other.json()["detail"][0]["message"]
    # Without a key, or with another key, every submission is a new run.
    assert client.post("/api/runs", json=body).json()["id"] != first.json()["id"]
    fresh = client.post("/api/runs", json=body, headers={"Idempotency-Key": "another"})
    assert fresh.status_code == 201 and count_runs(engine) == 3
    too_long = client.post("/api/runs", json=body, headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422 and count_runs(engine) == 3

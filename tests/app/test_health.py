"""/api/health: database, broker and live workers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from app.stack.redis_server import free_port
from worker.presence import start_presence


def test_health_reports_database_broker_and_workers(client, settings):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["database"]["url"].startswith("sqlite:///")
    assert body["broker"] == {"ok": True, "queued_messages": 0}
    assert body["workers"] == []
    client.post("/api/runs", json={"algorithm": "fixmatch"})
    stop = start_presence(settings.redis_url, "gpu0@host", interval=0.05, ttl=1)
    try:
        import time

        deadline = time.monotonic() + 5
        while not (body := client.get("/api/health").json())["workers"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        stop.set()
    assert body["broker"]["queued_messages"] == 1
    assert [w["name"] for w in body["workers"]] == ["gpu0@host"]


def test_health_is_503_when_the_broker_is_down(settings):
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    response = TestClient(create_app(offline, pages=False)).get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"]["ok"]
    assert body["broker"]["ok"] is False and "error" in body["broker"]


def test_submit_still_stores_the_run_when_the_broker_is_down(settings):
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = TestClient(create_app(offline, pages=False))
    response = client.post("/api/runs", json={"algorithm": "fixmatch"})
    # The row is the truth: stored and queued; a worker start re-enqueues it.
    assert response.status_code == 201 and response.json()["status"] == "queued"

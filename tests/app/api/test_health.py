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
    # The row is the truth: stored and queued; the watchdog sends it once Redis is back. The
    # answer says it is not in the queue yet: 202 with Matchlab-Queue: unreachable.
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.headers["matchlab-queue"] == "unreachable"


def test_the_client_warns_when_a_submission_is_stored_but_not_queued(settings):
    import pytest

    from app.client import Client, QueueUnreachable

    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(offline, pages=False)) as http:
        lab = Client("http://testserver", token="", transport=http._transport)
        with pytest.warns(QueueUnreachable, match="not queued yet"):
            run = lab.submit({"algorithm": "fixmatch"})
    assert run["status"] == "queued"

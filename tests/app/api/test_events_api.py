"""Server-sent events: replay, live epochs through Redis, and the close at a terminal status."""

from __future__ import annotations

import json
import threading
import time

import pytest

from app.api import events
from app.store.models import Status
from tests.app.conftest import add_points, set_run
from tests.worker.conftest import FakeTrain
from worker.runner import run_training


def read_events(
    client, run_id: int, headers: dict | None = None, query: str = ""
) -> list[tuple[str, dict, str]]:
    """All events of the stream as (event, data, id), until the server closes it."""
    out, event, data, event_id = [], None, None, ""
    url = f"/api/runs/{run_id}/events{query}"
    with client.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
            elif line.startswith("id: "):
                event_id = line.removeprefix("id: ")
            elif line == "" and event:
                out.append((event, data, event_id))
                event, data, event_id = None, None, ""
    return out


def test_finished_run_replays_epochs_then_status_and_closes(client, engine):
    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    add_points(engine, run_id, "val/top1", [50.0, 60.0])
    add_points(engine, run_id, "train/loss", [2.0, 1.0])
    set_run(engine, run_id, status=Status.succeeded, epoch=2)
    got = read_events(client, run_id)
    assert [e for e, _, _ in got] == ["epoch", "epoch", "status"]
    assert got[0][1]["metrics"] == {"train/loss": 2.0, "val/top1": 50.0}
    assert (got[1][1]["epoch"], got[1][2]) == (2, "2")
    assert got[2][1]["status"] == "succeeded"
    # A reconnect with Last-Event-ID gets only what came after.
    again = read_events(client, run_id, headers={"Last-Event-ID": "1"})
    assert [(e, d.get("epoch")) for e, d, _ in again] == [("epoch", 2), ("status", 2)]
    # A page asks for the epochs after those it drew from the HTML; a reconnect's header wins.
    drawn = read_events(client, run_id, query="?after=1")
    assert [(e, d.get("epoch")) for e, d, _ in drawn] == [("epoch", 2), ("status", 2)]
    both = read_events(client, run_id, headers={"Last-Event-ID": "2"}, query="?after=1")
    assert [e for e, _, _ in both] == ["status"]


def test_live_run_streams_status_epochs_and_closes_when_done(client, engine, settings):
    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    fake = FakeTrain(epochs=3, iters_per_epoch=20, step_seconds=0.01)
    trainer = threading.Thread(
        target=run_training, args=(run_id,), kwargs={"settings": settings, "train": fake}
    )
    timer = threading.Timer(0.3, trainer.start)  # the stream opens while the run is queued
    timer.start()
    got = read_events(client, run_id)
    trainer.join()
    names = [e for e, _, _ in got]
    statuses = [d["status"] for e, d, _ in got if e == "status"]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded" and "running" in statuses
    assert [d["epoch"] for e, d, _ in got if e == "epoch"] == [1, 2, 3]
    assert names[-1] == "status"
    assert "progress" in names
    epoch_three = next(d for e, d, _ in got if e == "epoch" and d["epoch"] == 3)
    assert epoch_three["metrics"]["val/top1"] == 60.0 and epoch_three["step"] == 60


def test_stream_polls_the_database_when_redis_is_down(client, engine, settings, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.stack.redis_server import free_port

    monkeypatch.setattr(events, "POLL_SECONDS", 0.1)
    offline = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    set_run(engine, run_id, status=Status.running)

    def finish() -> None:
        add_points(engine, run_id, "val/top1", [42.0], epoch=1)
        set_run(engine, run_id, status=Status.failed, error="ValueError: boom")

    threading.Timer(0.5, finish).start()
    got = read_events(TestClient(create_app(offline, pages=False)), run_id)
    assert [e for e, _, _ in got] == ["status", "epoch", "status"]
    assert got[-1][1]["error_line"] == "ValueError: boom"


def test_events_for_a_missing_run_is_404(client):
    assert client.get("/api/runs/999/events").status_code == 404


@pytest.mark.parametrize("status", [Status.cancelled, Status.failed])
def test_terminal_runs_without_points_close_at_once(client, engine, status):
    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    set_run(engine, run_id, status=status)
    assert [(e, d["status"]) for e, d, _ in read_events(client, run_id)] == [("status", status)]


def test_pages_following_one_run_share_one_redis_subscription(client, engine, settings):
    import redis

    from app.live import notify

    run_id = client.post("/api/runs", json={"algorithm": "fixmatch"}).json()["id"]
    set_run(engine, run_id, status=Status.running)
    broker = redis.Redis.from_url(settings.redis_url)
    opened = threading.Barrier(4)
    received: list[list[str]] = []

    def page() -> None:
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            lines = response.iter_lines()
            seen = [next(lines)]  # the first status event has begun: the stream is live
            opened.wait()
            seen += list(lines)
            received.append(seen)

    pages = [threading.Thread(target=page) for _ in range(3)]
    for thread in pages:
        thread.start()
    opened.wait()
    assert broker.pubsub_numsub(notify.channel(run_id))[0][1] == 1
    add_points(engine, run_id, "val/top1", [55.0])
    notify.publish(settings.redis_url, run_id, "epoch", {
        "epoch": 1, "step": 10, "wall_time": 1001.0, "metrics": {"val/top1": 55.0},
    })  # fmt: skip
    set_run(engine, run_id, status=Status.succeeded)
    notify.publish(settings.redis_url, run_id, "status", {"status": "succeeded"})
    for thread in pages:
        thread.join(timeout=30)
    assert len(received) == 3
    for lines in received:
        assert lines.count("event: epoch") == 1 and lines[-2].startswith("data: {")
        assert '"status": "succeeded"' in lines[-2]
    # The last page gone, the subscription closes (just after the stream's final bytes: wait).
    deadline = time.monotonic() + 30
    while broker.pubsub_numsub(notify.channel(run_id))[0][1] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broker.pubsub_numsub(notify.channel(run_id))[0][1] == 0

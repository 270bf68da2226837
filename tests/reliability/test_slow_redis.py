"""A Redis that accepts connections and never answers must not freeze the web server: routes
that touch Redis or the database run off the event loop, no database connection is held across
a Redis call, and a run that cannot be queued is stored and answered 202 (the watchdog sends it
later)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, create_engine, func, select

from app.stack.redis_server import free_port
from app.store.models import Run
from tests.e2e.conftest import Stack, tiny_spec

pytestmark = pytest.mark.e2e

HOLD_SECONDS = 20  # how long each Redis call waits (MATCHLAB_REDIS_TIMEOUT_SECONDS) here


class BlackHole:
    """Accepts every connection, reads nothing, answers nothing."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.connections: list[socket.socket] = []
        self.connected = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)
            self.connected.set()

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def stuck_stack(tmp_path: Path) -> Iterator[tuple[Stack, BlackHole]]:
    hole = BlackHole()
    home = tmp_path / "home"
    home.mkdir()
    stack = Stack(home, f"redis://127.0.0.1:{hole.port}/0")
    stack.env["MATCHLAB_REDIS_TIMEOUT_SECONDS"] = str(HOLD_SECONDS)
    stack.spawn("web", "--port", str(stack.port), log_name="web")
    stack.wait_for(lambda: _answers(stack.url), "the web server to answer", 60)
    yield stack, hole
    stack.stop()
    hole.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/static/matchlab.js", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def run_count(stack: Stack) -> int:
    engine = create_engine(f"sqlite:///{stack.home / 'matchlab.db'}")
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Run)).one()


def test_a_stuck_redis_holds_up_only_the_request_that_waits_on_it(stuck_stack):
    stack, hole = stuck_stack
    sweep_form = {
        "name": "five", "base": '{"algorithm": "fixmatch", "dataset": "digits"}',
        "grid_key_0": "hparams.threshold", "grid_values_0": "0.8, 0.85, 0.9, 0.95, 0.99",
        "seeds": "0",
    }  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        posted = pool.submit(
            httpx.post, f"{stack.url}/sweeps/new", data=sweep_form, timeout=10 * HOLD_SECONDS
        )
        assert hole.connected.wait(3 * HOLD_SECONDS), stack.logs()
        # The sweep's request is now waiting on Redis (for HOLD_SECONDS). Meanwhile the server
        # answers everything else: static files, pages and API reads.
        for path in ("/static/matchlab.js", "/", "/api/runs", "/runs/new"):
            response = httpx.get(f"{stack.url}{path}", timeout=HOLD_SECONDS / 4)
            assert response.status_code == 200, path
        assert not posted.done(), "the sweep answered before Redis timed out: nothing was tested"
        answer = posted.result()
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"].endswith("?queue=unreachable")
    page = httpx.get(f"{stack.url}{answer.headers['location']}", timeout=3 * HOLD_SECONDS)
    assert "not queued yet" in page.text
    assert run_count(stack) == 5, stack.logs()


def test_concurrent_submissions_with_a_stuck_redis_are_all_stored_and_answered_202(stuck_stack):
    stack, _ = stuck_stack

    def submit(i: int) -> httpx.Response:
        return httpx.post(
            f"{stack.url}/api/runs", json=tiny_spec(name=f"r{i}"), timeout=10 * HOLD_SECONDS
        )

    # More than the database pool (5 + 10 overflow) could serve if each request kept its
    # connection while waiting on Redis.
    with ThreadPoolExecutor(45) as pool:
        answers = list(pool.map(submit, range(45)))
    codes = sorted({a.status_code for a in answers})
    assert codes == [202], [a.text[:200] for a in answers if a.status_code != 202][:3]
    assert all(a.headers["matchlab-queue"] == "unreachable" for a in answers)
    assert all(a.json()["status"] == "queued" for a in answers)
    assert run_count(stack) == 45

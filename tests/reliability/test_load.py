"""Load on the real stack: 200 submissions at once (50 live pages: test_live_pages_load.py)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
import redis
from sqlmodel import Session, func, select

from app.queue import QUEUE
from app.store.db import make_engine
from app.store.models import Run
from tests.e2e.conftest import Stack
from tests.reliability.conftest import tiny

pytestmark = pytest.mark.e2e


async def _post_all(url: str, bodies: list[tuple[dict, dict]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/api/runs", json=body, headers=headers) for body, headers in bodies)
        )


def test_200_concurrent_submissions_make_exactly_200_runs(own_stack: Stack):
    stack = own_stack  # no worker: the runs stay queued, each with one message in Redis
    bodies = [(tiny(seed=i, name=f"load {i}"), {}) for i in range(200)]
    # Plus 20 retries of one submission racing each other: one run, the same one for all.
    bodies += [(tiny(seed=999), {"Idempotency-Key": "retry-me"}) for _ in range(20)]
    responses = asyncio.run(_post_all(stack.url, bodies))
    codes = Counter(r.status_code for r in responses)
    assert codes[201] + codes[200] == 220 and not set(codes) - {200, 201}, codes
    retried = {r.json()["id"] for r in responses[200:]}
    assert len(retried) == 1
    assert sorted(r.json()["spec"]["seed"] for r in responses[:200]) == list(range(200))

    with Session(make_engine(f"sqlite:///{stack.home / 'matchlab.db'}")) as session:
        assert session.exec(select(func.count()).select_from(Run)).one() == 201
    assert redis.Redis.from_url(stack.env["MATCHLAB_REDIS_URL"]).llen(QUEUE) == 201
    assert "Traceback" not in stack.logs()

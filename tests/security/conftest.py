"""A web-only stack (no worker: runs stay where the test puts them) and Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.browser.conftest import browser  # noqa: F401  (the module's Chromium)
from tests.e2e.conftest import Stack


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path_factory.mktemp("security-home"), redis_url)
    try:
        stack.start_web()
        yield stack
    finally:
        stack.stop()

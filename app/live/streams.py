"""Caps on the event streams one web process holds: per client and in total.

Each open stream holds a socket (and, before streams shared one Redis connection, a Redis client
too): a thousand of them under ``ulimit -n 1024`` left the process without file handles for
anything else. Beyond ``MATCHLAB_MAX_STREAMS_PER_CLIENT`` a client gets 429 and beyond
``MATCHLAB_MAX_STREAMS`` everyone gets 503, both with ``Retry-After``; a browser opens one
stream per run page, so the defaults leave room for many tabs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

RETRY_SECONDS = 10


class StreamCaps:
    """Counts open streams; ``take`` gives a release function or says why not."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open: Counter[str] = Counter()

    def take(self, client: str) -> tuple[Callable[[], None] | None, int, str]:
        """``(release, 0, "")`` for a stream that may open, else ``(None, status, reason)``."""
        if sum(self.open.values()) >= self.total:
            return None, 503, (
                f"this server holds its most event streams ({self.total}, "
                "MATCHLAB_MAX_STREAMS); try again shortly"
            )  # fmt: skip
        if self.open[client] >= self.per_client:
            return None, 429, (
                f"this client has {self.open[client]} event streams open, at most "
                f"{self.per_client} (MATCHLAB_MAX_STREAMS_PER_CLIENT); close some pages"
            )  # fmt: skip
        self.open[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open[client] -= 1
                if self.open[client] <= 0:
                    del self.open[client]

        return release, 0, ""

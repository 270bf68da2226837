"""A live worker keeps a short-lived Redis key alive; /api/health lists those keys.

A key that is not refreshed expires on its own, so a killed worker vanishes from the list within
``ttl`` seconds without anyone cleaning up after it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading

import redis

from app.live.notify import WORKER_KEY_PREFIX
from app.store.models import utcnow

log = logging.getLogger(__name__)


def start_presence(
    redis_url: str, name: str, interval: float = 5.0, ttl: float = 15.0, slots: int | None = None
) -> threading.Event:
    """Announce this worker (with its number of ``slots``) until the returned event is set."""
    stop = threading.Event()
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    info = {
        "name": name,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": utcnow().isoformat(),
        "slots": slots,
    }
    key = WORKER_KEY_PREFIX + name

    def beat() -> None:
        while True:
            try:
                client.set(key, json.dumps(info), px=int(ttl * 1000))
            except redis.RedisError as exc:
                log.warning("worker presence: %s", exc)
            if stop.wait(interval):
                break
        try:
            client.delete(key)
        except redis.RedisError:
            pass

    threading.Thread(target=beat, name="worker-presence", daemon=True).start()
    return stop

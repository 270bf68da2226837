"""The one settings object: every environment variable matchlab reads is a field here."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from ssl_core.contract.settings import CoreSettings


class Settings(CoreSettings):
    """Read from ``MATCHLAB_*`` environment variables (see the README's settings table).

    ``home`` and ``data_dir`` (and so the datasets folder) come from ``ssl_core.contract.settings``, the
    rule ``matchlab train`` uses too.
    """

    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file matchlab.db under home"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker and live updates")
    redis_timeout_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="a Redis call from a request gives up after this; the run stays stored "
        "and the API answers 202 (see app/queue.py)",
    )
    database_timeout_seconds: float = Field(
        15.0,
        gt=0,
        le=600,
        description="a web request waits at most this long for the database (a statement, a "
        "lock, a pooled connection), then gets 503 with Retry-After (see app/store/waits.py)",
    )
    max_streams: int = Field(
        500,
        ge=1,
        description="event streams (GET /api/runs/{id}/events) one web process holds at once; "
        "beyond it 503 with Retry-After (see app/live/streams.py)",
    )
    max_streams_per_client: int = Field(
        100,
        ge=1,
        description="event streams one client address may hold; beyond it 429 with Retry-After "
        "(behind a proxy every client may share one address: raise it)",
    )
    url: str = Field(
        "http://127.0.0.1:8000",
        description="the matchlab server the CLI's submit/sweep and app.client.Client talk to",
    )
    api_token: str | None = Field(
        None,
        description="when set, the API needs 'Authorization: Bearer <token>' and the pages a "
        "login with it (see app/http/auth.py)",
    )
    public_reads: bool = Field(
        False, description="with a token set, let anyone read (pages and GET /api) without it"
    )
    allowed_hosts: str | None = Field(
        None,
        description="comma-separated host names the server answers to ('*': any); default the "
        "loopback names plus bind_host (see app/http/guard.py)",
    )
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses or CIDRs of the reverse proxies whose "
        "X-Forwarded-Host is believed (see app/http/guard.py); empty: such headers are ignored",
    )
    bind_host: str = Field(
        "127.0.0.1", description="the address `matchlab web/up --host` binds (they set it)"
    )
    secure_cookies: bool | None = Field(
        None,
        description="mark the login cookie Secure; default: when the request came over https, "
        "which behind a TLS proxy needs uvicorn's --proxy-headers and --forwarded-allow-ips",
    )
    login_rate: str = Field(
        "10/minute",
        description="wrong tokens one client may try at /login (a limits rate string); "
        "more get 429 with Retry-After",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="request bodies larger than this get 413"
    )
    max_import_bytes: int = Field(
        2 * 1024**3,
        ge=1024,
        description="the same for POST /api/runs/import (matchlab sync), which carries checkpoints",
    )
    # How often a training run writes its step and heartbeat and looks at its cancel flag.
    heartbeat_seconds: float = Field(3.0, gt=0)
    # A `running` run whose heartbeat is older than this is taken to have lost its worker.
    stale_after_seconds: float = Field(120.0, gt=0)
    # A `queued` run with no message in Redis for this long lost it (e.g. Redis restarted empty)
    # and is sent again; the wait covers the moment between storing a run and enqueueing it.
    requeue_after_seconds: float = Field(30.0, gt=0)

    @field_validator("login_rate")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate; write it like '10/minute' or '100 per hour'"
            ) from None
        return value

    @property
    def db_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.home / 'matchlab.db'}"
        # psycopg 3 is the installed driver; plain postgresql:// would ask SQLAlchemy for psycopg2.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()


# MATCHLAB_* variables that are not settings, so never "unknown": paths for the set-up script
# (scripts/system-deps.sh and its test), the test suite's PostgreSQL, and the thread budget a
# worker hands its pool processes (worker/slots.py).
NOT_SETTINGS = frozenset(
    {"MATCHLAB_CHROMIUM", "MATCHLAB_FASHION_MNIST_DIR", "MATCHLAB_TEST_POSTGRES",
     "MATCHLAB_WORKER_THREADS"}
)  # fmt: skip


def unknown_variables_warning(environ: Mapping[str, str]) -> str | None:
    """One sentence naming every ``MATCHLAB_*`` variable that is no setting (a misspelled
    token setting would leave the server open without a word), with the nearest setting."""
    known = {"MATCHLAB_" + name.upper() for name in Settings.model_fields}
    unknown = sorted(n for n in environ if n.upper().startswith("MATCHLAB_") and
                     n.upper() not in known | NOT_SETTINGS)  # fmt: skip
    if not unknown:
        return None
    # Compared without the shared prefix, which would make every name look alike.
    bare = {name.removeprefix("MATCHLAB_"): name for name in known}
    guesses = []
    for name in unknown:
        near = difflib.get_close_matches(name.upper()[len("MATCHLAB_") :], sorted(bare), n=1)
        guesses.append(f"{name} (did you mean {bare[near[0]]}?)" if near else name)
    return (
        f"warning: ignoring unknown setting{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(guesses)}; the settings are in the README's Configuration table"
    )

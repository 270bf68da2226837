"""Databases made by older matchlab commits (tests/fixtures/upgrade, scripts/
make_upgrade_fixtures.py), loaded into a SQLite file or a PostgreSQL database of their own."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
PG_URL = os.environ.get("MATCHLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")


@contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database (PostgreSQL: dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    postgres_or_skip()
    name = f"matchlab_test_upgrade_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextmanager
def old_database(name: str, backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a copy of fixture ``name`` as its commit left it."""
    with empty_database(backend, tmp_path) as url:
        if backend == "sqlite":
            data = gzip.decompress((FIXTURES / f"{name}.sqlite.gz").read_bytes())
            Path(url.removeprefix("sqlite:///")).write_bytes(data)
        else:
            if shutil.which("psql") is None:
                pytest.skip("no psql to restore the PostgreSQL dumps (Debian: postgresql-client)")
            plain = url.replace("postgresql+psycopg://", "postgresql://")
            dump = FIXTURES / f"{name}.postgres.sql"
            subprocess.run(
                ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain, "-f", str(dump)],
                check=True, capture_output=True,
            )  # fmt: skip
        yield url

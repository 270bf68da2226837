"""Schema upgrades: Alembic migrations (``app/store/migrations``), applied when the web server or
a worker opens the database and by ``matchlab db upgrade``.

- The database records its revision (table ``alembic_version``). One made before matchlab had
  migrations has none: it is adopted at the newest revision whose change it already holds (each
  migration can tell), and the rest are applied, each checking what is already there.
- One process migrates at a time: SQLite takes its write lock (``BEGIN IMMEDIATE``) and
  PostgreSQL an advisory lock for the whole upgrade, which is one transaction; another process
  starting meanwhile waits, then finds nothing left to do. A crash leaves the database as it was.
- A database at a revision this code does not know (a newer matchlab upgraded it) is refused
  before anything is changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant: the key of the PostgreSQL advisory lock that serialises upgrades.
PG_LOCK_KEY = 0x6D61_7463_686C_6162 & 0x7FFF_FFFF_FFFF_FFFF
# How long a process waits for another one's upgrade (a big SQLite points rebuild takes minutes).
LOCK_WAIT_SECONDS = 30 * 60


class DatabaseTooNew(RuntimeError):
    """The database is at a schema revision this matchlab does not know."""

    def __init__(self, url: str, revision: str) -> None:
        super().__init__(
            f"the database {url} is at schema revision {revision!r}, which this matchlab does "
            f"not know (it knows up to {head()!r}): a newer matchlab upgraded it. Upgrade this "
            "matchlab to that version or later, or point MATCHLAB_DATABASE_URL at another "
            "database; nothing was changed."
        )
        self.revision = revision


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache  # the migrations of this code: read once per process
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    return scripts().get_current_head() or ""


def shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None: empty, or made before matchlab had migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _check_known(engine: Engine, revision: str | None) -> None:
    if revision is not None and revision not in {s.revision for s in scripts().walk_revisions()}:
        raise DatabaseTooNew(shown(engine), revision)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (revision before, revision now)."""
    target = head()
    before = current_revision(engine)
    _check_known(engine, before)
    if before == target:
        return before, target
    with _locked(engine) as connection:
        context = MigrationContext.configure(connection)
        before = context.get_current_revision()  # again: another process may have migrated
        _check_known(engine, before)
        if before is None:
            adopted = _adopt(connection)
            if adopted is not None:
                log.warning("adopting %s, made before migrations, at %s", shown(engine), adopted)
                context.stamp(scripts(), adopted)
        now = context.get_current_revision()
        if now != target:  # creating a new database's tables is no news: info only
            level = logging.WARNING if now is not None else logging.INFO
            log.log(level, "upgrading the schema of %s to %s", shown(engine), target)
            command.upgrade(_config(connection), "head")
    return before, target


def _adopt(connection: Connection) -> str | None:
    """The newest revision whose change and all before it an unversioned database holds (None:
    not even the first release's tables, so everything is created)."""
    found = None
    context = MigrationContext.configure(connection)
    with Operations.context(context):
        for script in reversed(list(scripts().walk_revisions())):
            if not script.module.applied():
                break
            found = script.revision
    return found


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock, in a transaction committed on success."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        try:
            if sqlite:  # off for the rebuilds: dropping a table must not cascade to its rows
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                _begin_immediate(connection, shown(engine))
            elif engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:  # the connection goes back to the pool as the engine made it
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _begin_immediate(connection: Connection, name: str) -> None:
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:  # another process holds the write lock past the
            if "locked" not in str(error) or time.monotonic() > deadline:  # busy timeout
                raise
            log.warning("waiting for another process to finish writing to %s", name)
            connection.rollback()


def db_command(action: str, url: str) -> int:
    """``matchlab db upgrade|current``: what it did or found, one line; 2 when refused."""
    import sys

    from app.store.db import make_engine

    engine = make_engine(url, migrate=False)
    try:
        if action == "upgrade":
            before, now = upgrade(engine)
            said = "already at" if before == now else f"upgraded from {before or 'no version'} to"
            print(f"{shown(engine)}: {said} {now}")
        else:
            revision = current_revision(engine)
            _check_known(engine, revision)
            state = "the newest" if revision == head() else f"the newest is {head()}"
            if revision is None:
                print(
                    f"{shown(engine)}: no schema version (empty, or made before matchlab had "
                    f"migrations; matchlab db upgrade adopts it); {state}"
                )
            else:
                print(f"{shown(engine)}: {revision} ({state})")
    except DatabaseTooNew as error:
        print(f"matchlab db {action}: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0

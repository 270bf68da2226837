"""One engine factory shared by the web server and the workers.

SQLite runs in WAL mode so the web server reads while a worker writes; a busy timeout makes a
writer wait for the lock instead of failing; foreign keys make deleting a run delete its points.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.schema import CreateTable
from sqlmodel import Session, SQLModel, create_engine

from app.config import Settings, get_settings

BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger(__name__)
_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # (The busy timeout is sqlite3's connect argument ``timeout``: the web server's is shorter.)
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL stays consistent after a crash; only the last commits may be lost on power cut.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for ``url`` with matchlab's connection settings; creates the tables."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        connect_args.update(kwargs.pop("connect_args", {}))
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    import app.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

    # The web server and a worker starting together may both create the tables: the loser of
    # that race sees "already exists" and simply checks again.
    for attempt in range(3):
        try:
            SQLModel.metadata.create_all(engine)
            _cluster_points(engine)
            _add_new_columns(engine)
            break
        except (DatabaseError, sqlite3.OperationalError):  # the latter: _cluster_points waited
            if attempt == 2:  # out the busy timeout while another process rebuilt a big table
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Bring a database made by an older matchlab up to date: add missing columns and indexes.

    New columns are always nullable (or have a scalar default), so adding them is safe and
    quick; ``create_all`` alone only creates whole missing tables.
    """
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        with engine.begin() as connection:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                default = column.default.arg if column.default is not None else None
                tail = f" DEFAULT {default!r}" if isinstance(default, (int, float, str)) else ""
                connection.exec_driver_sql(
                    f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{tail}'
                )
            for index in table.indexes:
                if index.name not in indexes:
                    index.create(connection, checkfirst=True)


def _has_rowid_points(db: sqlite3.Connection) -> bool:
    return "id" in {row[1] for row in db.execute('PRAGMA table_info("metric_points")')}


def _cluster_points(engine: Engine) -> None:
    """SQLite: rebuild a ``metric_points`` table of the older layout (an ``id`` rowid plus a unique
    index on run, key and epoch) into today's, keyed and stored by (run, key, epoch) ``WITHOUT
    ROWID`` (``models.MetricPoint``), keeping every point. Once per database, in one
    ``BEGIN IMMEDIATE`` transaction: a crash leaves the old table as it was, and a second process
    opening the database meanwhile waits for the lock, then finds nothing left to do.
    (PostgreSQL tables of the older layout are left as they are: the code never reads ``id``.)
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    timeout = BUSY_TIMEOUT_MS / 1000
    with closing(sqlite3.connect(engine.url.database, timeout=timeout, isolation_level=None)) as db:
        if not _has_rowid_points(db):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if _has_rowid_points(db):
                count = db.execute("SELECT count(*) FROM metric_points").fetchone()[0]
                log.warning("rebuilding metric_points (%d points) into the clustered layout", count)
                table = SQLModel.metadata.tables["metric_points"]
                copy = MetaData()  # the new table's foreign key names runs: copy it along
                SQLModel.metadata.tables["runs"].to_metadata(copy)
                new = table.to_metadata(copy, name="metric_points_clustered")
                db.execute(str(CreateTable(new).compile(dialect=engine.dialect)))
                columns = ", ".join(f'"{c.name}"' for c in table.columns)
                db.execute(
                    f"INSERT INTO metric_points_clustered ({columns}) SELECT {columns} "
                    'FROM metric_points ORDER BY run_id, "key", epoch'
                )
                db.execute("DROP TABLE metric_points")
                db.execute("ALTER TABLE metric_points_clustered RENAME TO metric_points")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def after_fork() -> None:
    """In a forked child: start fresh connection pools, leaving the parent's connections alone
    (a connection must never be used by two processes)."""
    for engine in _engines.values():
        engine.dispose(close=False)


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the settings' database (one per URL)."""
    url = (settings or get_settings()).db_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

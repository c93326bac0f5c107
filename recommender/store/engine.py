"""Connecting to the store of record: a SQLite file by default, PostgreSQL when DATABASE_URL says so.

Every SQLite connection is set up the same way (WAL, busy timeout, foreign keys) so gunicorn workers,
the Celery worker and the CLI can share one file. Writers start with BEGIN IMMEDIATE: a writer then
waits for the lock (up to the busy timeout) instead of failing on a stale read snapshot.
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

SQLITE_FILE_NAME = "likewise.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
WAL_SWITCH_RETRY_SECONDS = 0.02
POSTGRES_CONNECT_TIMEOUT_S = 5
POOL_SIZE = 5
POOL_MAX_OVERFLOW = 5
POOL_RECYCLE_S = 1800
POSTGRES_DRIVER = "postgresql+psycopg"
WRITE_BEGIN_OPTION = "likewise_sqlite_begin"


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or is busy beyond the timeout; nothing was written."""


def normalise_url(url: str) -> str:
    """DATABASE_URL as people write it (postgres://, postgresql://) -> the psycopg 3 driver URL."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return POSTGRES_DRIVER + "://" + url[len(prefix):]
    return url


def make_engine(url: str | None, data_dir: str | Path) -> Engine:
    """The engine for `url`, or for `<data_dir>/likewise.db` when no URL is given."""
    if not url:
        path = Path(data_dir) / SQLITE_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True)
        _configure_sqlite(engine)
        return engine
    connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_MAX_OVERFLOW,
                         pool_recycle=POOL_RECYCLE_S, connect_args=connect_args)


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions begin IMMEDIATE on SQLite (takes the write lock up front)."""
    return engine.execution_options(**{WRITE_BEGIN_OPTION: "IMMEDIATE"})


def _use_wal(cursor) -> None:
    """Switch the file to WAL (it stays so). Switching needs the file to itself and SQLite does not wait
    for that with the busy timeout: when another process is switching the same new file at that
    moment, try again until the busy timeout has passed."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_SECONDS)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" listener below emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        try:
            cursor.execute("SELECT exp(0)")
        except sqlite3.OperationalError:  # SQLite built without its math functions
            dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get(WRITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

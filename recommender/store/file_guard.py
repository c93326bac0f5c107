"""Guarding a SQLite store file against being deleted or replaced under running processes.

SQLite keeps reading and writing a file it has open after that file was removed: every write then
lands in a deleted inode and is lost when the process stops, while the API goes on acknowledging it.
So each engine on a SQLite file remembers the identity (device, inode) of the file it opened and
checks the path against it before every transaction and before every new connection. A marker file
beside the database (`likewise.store.json` for `likewise.db`, outside `rm likewise.db*`) records that
a store was created there: a later start that finds the marker but no database refuses to create a
new, empty store in its place.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from recommender.store.engine import SQLITE_FILE_NAME, StoreUnavailable, normalise_url

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".store.json"
IN_MEMORY_DATABASES = ("", ":memory:")
_GUARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class StoreFileGone(StoreUnavailable):
    """The SQLite file was deleted or replaced: nothing is read or written until an operator recovers it."""


def marker_path(database: Path) -> Path:
    """The marker that says a store was created at `database`."""
    return database.with_name(database.stem + MARKER_SUFFIX)


def sqlite_file(url: str | None, data_dir: str | Path) -> Path | None:
    """The SQLite file a store URL (or no URL: the data dir's default file) names; None otherwise."""
    if not url:
        return Path(data_dir) / SQLITE_FILE_NAME
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or (parsed.database or "") in IN_MEMORY_DATABASES:
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class StoreFileGuard:
    """The identity of one engine's SQLite file, and the checks that the path still holds it."""

    def __init__(self, path: Path):
        self.path = Path(path).absolute()
        self.marker = marker_path(self.path)
        self.identity: tuple[int, int] | None = None
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        """Why the store file cannot be used now, or None when it can."""
        current = _identity(self.path)
        if current is None and self.identity is not None:
            return f"the store file {self.path} was deleted while this process had it open"
        if current is None and self.marker.exists():
            return (f"the store file {self.path} is missing, but {self.marker.name} beside it says a store "
                    "was created there: it was deleted or moved")
        if current is not None and self.identity is not None and current != self.identity:
            return f"the store file {self.path} was replaced by another file while this process had it open"
        return None

    def check(self) -> None:
        """Raise StoreFileGone (logged once per cause) when the file is gone or replaced."""
        problem = self.problem()
        if problem is None:
            return
        message = (f"{problem}; nothing is read or written until it is recovered. Stop every Likewise process, "
                   f"put the file back (restore it from a backup) and start them again; to start over with an "
                   f"empty store instead, delete {self.marker}")
        with self._lock:
            if problem not in self._reported:
                self._reported.add(problem)
                log.error("store of record refused: %s", message)
        raise StoreFileGone(message)

    def opened(self) -> None:
        """A connection was made: remember the file's identity and leave the marker beside it."""
        with self._lock:
            if self.identity is None:
                self.identity = _identity(self.path)
        if not self.marker.exists():
            write_marker(self.marker, self.path)


def write_marker(marker: Path, database: Path) -> None:
    """Create the marker once (two processes starting at once write it once)."""
    body = json.dumps({"store": database.name, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "why": "a Likewise store of record was created here; see README, Operating"})
    try:
        descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(body + "\n")


def guard_engine(engine: Engine) -> StoreFileGuard | None:
    """Install the checks on an engine on a SQLite file (once per engine); None for other databases."""
    if engine in _GUARDS:
        return _GUARDS[engine]
    path = sqlite_file(engine.url.render_as_string(hide_password=False), ".")
    if path is None:
        return None
    guard = _GUARDS[engine] = StoreFileGuard(path)

    @event.listens_for(engine, "do_connect")
    def _before_connecting(_dialect, _record, _args, _kwargs):
        guard.check()  # before SQLite would create an empty file in place of a lost one

    @event.listens_for(engine, "connect")
    def _after_connecting(_dbapi_connection, _record):
        guard.opened()

    event.listen(engine, "begin", lambda _connection: guard.check(), insert=True)
    return guard


def guard_of(engine: Engine) -> StoreFileGuard | None:
    """The guard installed on an engine, if any."""
    return _GUARDS.get(engine)

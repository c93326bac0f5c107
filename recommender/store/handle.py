"""One Store per process, opened on first use: engines and their pooled connections must not cross
a fork (gunicorn --preload forks after create_app), so a child opens its own."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from recommender.store.engine import StoreUnavailable
from recommender.store.file_guard import StoreFileGuard, sqlite_file
from recommender.store.store_of_record import Store


class StoreHandle:
    """The store of record of this process, from DATABASE_URL (or the SQLite file in the data dir)."""

    def __init__(self, url: str | None, data_dir: str | Path):
        self.url = url or None
        self.data_dir = Path(data_dir)
        self._store: Store | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        """This process's store; raises StoreUnavailable when the database cannot be reached."""
        with self._lock:
            if self._store is None or self._pid != os.getpid():
                self._store = Store.open(self.url, self.data_dir)
                self._pid = os.getpid()
            return self._store

    def prepare(self, active_catalog_dir: str | Path | None = None) -> dict | None:
        """On start: bring the schema up to date and import an existing data dir's catalog files once.

        The connections are closed afterwards, so a process forked from this one opens its own."""
        store = self.get()
        try:
            return store.import_files_once(active_catalog_dir) if active_catalog_dir is not None else None
        finally:
            self.close()

    def file_problem(self) -> str | None:
        """Why the SQLite store file cannot be used (deleted, replaced, missing beside its marker), else None."""
        with self._lock:
            store = self._store if self._pid == os.getpid() else None
        if store is not None:
            return store.file_guard.problem() if store.file_guard else None
        path = sqlite_file(self.url, self.data_dir)
        return StoreFileGuard(path).problem() if path is not None else None

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._pid == os.getpid():
                self._store.engine.dispose()
            self._store, self._pid = None, None


def open_store_of_record(database_url: str | None, data_dir: str | Path, catalog_dir: str | Path,
                         log: logging.Logger) -> StoreHandle:
    """How web and worker processes open the store at start: upgrade the schema and import an existing data
    dir's catalog files once. A database that is down does not stop the process: pages answer from the
    served index, the API and the builds that need the store say 503 or fail with the reason."""
    handle = StoreHandle(database_url, data_dir)
    try:
        handle.prepare(catalog_dir)
    except StoreUnavailable as exc:
        log.warning("the store of record is unavailable at start: %s", exc)
    return handle

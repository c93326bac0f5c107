"""The store of record as tracking sees it: the process's one store, opened on first need.

A web process must start and answer while the database is down; tracking then drops rows (counted)
and tries again on the next flush. Reading experiments never creates a database: with no
DATABASE_URL and no SQLite file yet there can be no experiment.
"""

from __future__ import annotations

import threading

from recommender.metrics.store import MetricsStore
from recommender.store import Store
from recommender.store.engine import SQLITE_FILE_NAME
from recommender.store.handle import StoreHandle


class MetricsDatabase:
    """The metrics tables on the engine of the process's StoreHandle (one engine, one migration)."""

    def __init__(self, handle: StoreHandle):
        self.handle = handle
        self._lock = threading.Lock()
        self._metrics: tuple[Store, MetricsStore] | None = None

    def exists(self) -> bool:
        return self.handle.url is not None or (self.handle.data_dir / SQLITE_FILE_NAME).exists()

    def open(self) -> tuple[Store, MetricsStore]:
        """The store and its metrics tables; raises StoreUnavailable."""
        store = self.handle.get()
        with self._lock:
            if self._metrics is None or self._metrics[0] is not store:
                self._metrics = (store, MetricsStore(store.engine))
            return self._metrics

    def metrics(self, create: bool = True) -> MetricsStore | None:
        if not create and not self.exists():
            return None
        return self.open()[1]

    def close(self) -> None:
        with self._lock:
            self._metrics = None
        self.handle.close()

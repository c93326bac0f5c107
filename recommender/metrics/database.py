"""The store of record as tracking sees it: opened on first need, never at start-up.

A web process must start and answer while the database is down; tracking then drops rows (counted)
and tries again on the next flush. Reading experiments never creates a database: with no
DATABASE_URL and no SQLite file yet there can be no experiment.
"""

from __future__ import annotations

import threading
from pathlib import Path

from recommender.metrics.store import MetricsStore
from recommender.store import Store
from recommender.store.engine import SQLITE_FILE_NAME


class MetricsDatabase:
    """Lazily opened Store and MetricsStore sharing one engine; thread-safe."""

    def __init__(self, url: str | None, data_dir: str | Path):
        self.url = url or None
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._metrics: MetricsStore | None = None

    def exists(self) -> bool:
        return self._store is not None or self.url is not None or (self.data_dir / SQLITE_FILE_NAME).exists()

    def open(self) -> tuple[Store, MetricsStore]:
        """The store and its metrics tables (migrating on first open); raises StoreUnavailable."""
        with self._lock:
            if self._store is None:
                store = Store.open(self.url, self.data_dir)
                self._store, self._metrics = store, MetricsStore(store.engine)
            return self._store, self._metrics

    def metrics(self, create: bool = True) -> MetricsStore | None:
        if not create and not self.exists():
            return None
        return self.open()[1]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.engine.dispose()
            self._store = self._metrics = None

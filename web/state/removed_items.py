"""This web process's copy of the ids removed from the store, refreshed by the model holder's watcher.

Polls one counter (store_state.removed_revision) at most every RELOAD interval and re-reads the
list only when it moved. With the database down it keeps the list it has: pages keep answering.
"""

from __future__ import annotations

import logging
import threading

from recommender.removal import without_removed
from recommender.store import StoreUnavailable
from recommender.store.handle import StoreHandle

log = logging.getLogger(__name__)


class RemovedItems:
    """The removed ids and the served model seen without them (cached per model version)."""

    def __init__(self, handle: StoreHandle):
        self.handle = handle
        self.revision: int | None = None
        self.ids: frozenset[str] = frozenset()
        self.failure: str | None = None
        self.tried = False
        self._view_key: tuple | None = None
        self._view = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Re-read the list if it changed; returns True when it did."""
        self.tried = True
        try:
            store = self.handle.get()
            if self.revision is not None and store.removed_revision() == self.revision:
                return False
            revision, ids = store.removed_ids()
        except StoreUnavailable as exc:
            if self.failure is None:
                log.warning("removed items not refreshed, keeping %d known: %s", len(self.ids), exc)
            self.failure = str(exc)
            return False
        with self._lock:
            self.revision, self.ids, self.failure = revision, ids, None
        return True

    def view(self, model):
        """`model` without the removed ids, built once per (model version, list revision)."""
        if model is None:
            return None
        key = (id(model), self.revision)
        with self._lock:
            if key != self._view_key:
                self._view = without_removed(model, self.ids)
                self._view_key = key
            return self._view

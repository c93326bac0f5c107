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

VIEWS_KEPT = 4  # the served model, both arms of an experiment, and one being swapped in


class RemovedItems:
    """The removed ids and the served model seen without them (cached per model version)."""

    def __init__(self, handle: StoreHandle):
        self.handle = handle
        self.revision: int | None = None
        self.ids: frozenset[str] = frozenset()
        self.failure: str | None = None
        self.tried = False
        self._views: dict[int, tuple] = {}  # id(model) -> (model, revision, view), the newest VIEWS_KEPT
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
        """`model` without the removed ids, built once per (model, list revision): the served model and an
        experiment's two arms each keep their own."""
        if model is None:
            return None
        with self._lock:
            kept = self._views.get(id(model))
            if kept is None or kept[0] is not model or kept[1] != self.revision:
                kept = (model, self.revision, without_removed(model, self.ids))
                self._views.pop(id(model), None)
                self._views[id(model)] = kept
                while len(self._views) > VIEWS_KEPT:
                    self._views.pop(next(iter(self._views)))
            return kept[2]

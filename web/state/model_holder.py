"""The index version this web process serves, swapped for a newer one without a restart.

A background thread in each process reads the store's `current` pointer twice a second: the
pointer itself is the notification, so there is no message to miss. A new version is loaded
beside the old one and swapped in with one reference assignment: a request that already holds
the old model finishes on it, and the old model is released when the last such request drops
it. A version that fails to load is never swapped in; the error is kept for /readyz and /admin.
Each round also reports the served version (web/state/serving_registry.py), so a switch can wait
until every process serves it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from recommender.index_store import IndexStore, IndexStoreError
from recommender.model import IndexLoadError, SimilarItemsModel
from web.state.background import ProcessThread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadFailure:
    version: str
    reason: str
    at: float


class ModelHolder:
    """Per-process holder of the served SimilarItemsModel."""

    def __init__(self, store: IndexStore, interval: float = 0.5, removed=None, registry=None):
        self.store = store
        self.interval = interval
        self.removed = removed  # web.state.removed_items.RemovedItems, refreshed by the same watcher
        self.registry = registry  # web.state.serving_registry.ServingRegistry: told what this process serves
        self._model: SimilarItemsModel | None = None
        self._lock = threading.Lock()
        self._watcher = ProcessThread(self, "watch_once", interval, "index-watcher")
        self.failure: LoadFailure | None = None
        self._failed_version: str | None = None
        self._swap_listeners: list[Callable[[str], None]] = []

    def on_swap(self, listener: Callable[[str], None]) -> None:
        """Call `listener(version)` whenever a version starts being served (now, if one already is),
        so per-version caches can be dropped with the version they belong to."""
        self._swap_listeners.append(listener)
        if self._model is not None:
            listener(self._model.version)

    def _serve(self, model: SimilarItemsModel | None) -> None:
        self._model = model
        if model is not None:
            for listener in self._swap_listeners:
                listener(model.version)

    @property
    def model(self) -> SimilarItemsModel | None:
        """The served model; the first call in a process loads it (and reports it) and starts watching for new
        ones."""
        if self._model is None:
            self.watch_once()
        self._ensure_watcher()
        return self._model

    def served(self):
        """The served model without the items removed from the store since it was built."""
        return self.without_removed(self.model)

    def without_removed(self, model):
        """Any model this process answers from (the served one, an experiment's arms) without the removed items."""
        if self.removed is None:
            return model
        if not self.removed.tried:
            self.removed.refresh()
        return self.removed.view(model)

    def refresh(self) -> bool:
        """Load the version `current` points at if it is new; returns True when it swapped."""
        with self._lock:
            try:
                wanted = self.store.current_version()
            except IndexStoreError as exc:
                self._record_failure("?", str(exc))
                return False
            if wanted is None:
                return False
            if self._model is not None and self._model.version == wanted:
                self._failed_version, self.failure = None, None
                return False
            if wanted == self._failed_version:
                return False
            model = self._load(wanted)
            if model is None:
                if self._model is None:
                    self._serve(self._last_good(exclude=wanted))
                return False
            self._serve(model)
            self._failed_version, self.failure = None, None
            log.info("pid %s now serving index version %s", os.getpid(), wanted)
            return True

    def _load(self, version: str) -> SimilarItemsModel | None:
        try:
            return SimilarItemsModel(self.store.version_path(version))
        except (IndexLoadError, IndexStoreError, OSError, ValueError, KeyError) as exc:
            self._failed_version = version
            self._record_failure(version, str(exc))
            log.error("index version %s not loaded, still serving %s: %s", version,
                      self._model.version if self._model else "nothing", exc)
            return None

    def _last_good(self, exclude: str) -> SimilarItemsModel | None:
        """A process that starts while `current` is broken serves the newest kept version that loads."""
        for manifest in self.store.versions():
            version = manifest.get("version")
            if version and version != exclude and "error" not in manifest:
                try:
                    model = SimilarItemsModel(self.store.version_path(version))
                except (IndexLoadError, IndexStoreError, OSError, ValueError, KeyError):
                    continue
                log.warning("pid %s serves %s: the published version %s does not load", os.getpid(), version, exclude)
                return model
        return None

    def _record_failure(self, version: str, reason: str) -> None:
        self.failure = LoadFailure(version, reason, time.time())

    def _ensure_watcher(self) -> None:
        self._watcher.ensure()


    def watch_once(self) -> None:
        """One round of the watcher: a new version, the items removed from the store meanwhile, and a report
        of the version served to the other processes."""
        began = time.time()
        self.refresh()
        if self.removed is not None:
            self.removed.refresh()
        if self.registry is not None and self._model is not None:  # both were read after `began`
            self.registry.report(self._model.version, began)

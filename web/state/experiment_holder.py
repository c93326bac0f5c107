"""The versions an A/B test serves, held next to the served model (web/state/model_holder.py).

While an experiment runs, each visitor is answered by their arm's version: the challenger, or the
control pinned by name when the experiment started, whatever `current` points at meanwhile (a rebuild,
or a process restarted after one, changes neither arm). Both arms are seen without the items removed
from the store, exactly like the served model, and with the served version's fields for their items
(an item edit reaches both arms when its rebuild is published, as it reaches everyone else).

Exact from the moment a start or stop call returns, in every process: a request re-reads the running
experiment row when this process last read it more than EXPERIMENT_RECHECK_SECONDS ago (one indexed
row, one thread at a time; the others wait for it), and the start and stop calls wait that long after
their commit before answering (`settle`), so by then no process still holds what it read before it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from recommender.index_store import IndexStore, IndexStoreError
from recommender.limits import EXPERIMENT_RECHECK_SECONDS, EXPERIMENT_RETRY_SECONDS
from recommender.metrics.arms import CHALLENGER, CONTROL, assign_arm
from recommender.metrics.experiments import Experiment
from recommender.model import IndexLoadError, SimilarItemsModel
from recommender.removal import with_fields_of
from recommender.store import StoreUnavailable

log = logging.getLogger(__name__)

LOAD_ERRORS = (IndexLoadError, IndexStoreError, OSError, ValueError, KeyError)


@dataclass(frozen=True)
class ArmChoice:
    model: SimilarItemsModel
    arm: str
    experiment_id: str


def _unchanged(model):
    return model


class ExperimentHolder:
    """Per-process: the running experiment (if any) and the models of its two arms."""

    def __init__(self, store: IndexStore, served: Callable[[], SimilarItemsModel | None],
                 read_experiment: Callable[[], Experiment | None], view: Callable = _unchanged,
                 recheck: float = EXPERIMENT_RECHECK_SECONDS, retry: float = EXPERIMENT_RETRY_SECONDS):
        self.store = store
        self.served = served
        self.read_experiment = read_experiment
        self.view = view  # the model seen without the removed items (ModelHolder.without_removed)
        self.recheck, self.retry = recheck, retry
        self.load_error: str | None = None
        self._state: tuple[Experiment | None, dict[str, SimilarItemsModel]] = (None, {})
        self._fresh_until = float("-inf")
        self._failing = False  # the last read found the database unreachable
        self._lock = threading.Lock()

    @property
    def experiment(self) -> Experiment | None:
        return self._state[0]

    def current(self) -> tuple[Experiment | None, dict[str, SimilarItemsModel]]:
        """The running experiment and its arms' models, re-read when older than `recheck`."""
        if time.monotonic() >= self._fresh_until:
            if self._failing:
                self._retry_in_background()
                return self._state
            with self._lock:
                if time.monotonic() >= self._fresh_until:
                    self._refresh_locked()
        return self._state

    def _retry_in_background(self) -> None:
        """While the database cannot be reached, requests answer from what this process knew and do not wait
        for a connect timeout: one thread tries again (no start or stop can commit meanwhile)."""
        if self._lock.acquire(blocking=False):
            self._fresh_until = time.monotonic() + self.retry
            threading.Thread(target=self._retry_locked, name="experiment-retry", daemon=True).start()

    def _retry_locked(self) -> None:
        try:
            self._refresh_locked()
        finally:
            self._lock.release()

    def running(self) -> bool:
        """Whether an experiment runs: only then does a request need a visitor id to pick its arm."""
        return self.current()[0] is not None

    def choose(self, visitor: str | None) -> ArmChoice | None:
        """The arm and model for this visitor, or None when no experiment runs (or neither arm loads)."""
        experiment, models = self.current()
        if experiment is None:
            return None
        arm = assign_arm(visitor, experiment.experiment_id, experiment.share)
        model = models.get(experiment.challenger if arm == CHALLENGER else experiment.control)
        if model is None:  # an arm that does not load: its visitors get the other arm, never a third version
            arm = CONTROL if arm == CHALLENGER else CHALLENGER
            model = models.get(experiment.challenger if arm == CHALLENGER else experiment.control)
        if model is None:
            return None
        return ArmChoice(with_fields_of(self.view(model), self.served()), arm, experiment.experiment_id)

    def refresh(self) -> None:
        """Re-read the running experiment now (a start or stop in this process calls it after its commit)."""
        with self._lock:
            self._refresh_locked()

    def settle(self) -> None:
        """Wait until every process has re-read the experiment since this process's commit."""
        self.refresh()
        time.sleep(self.recheck)

    def _refresh_locked(self) -> None:
        started = time.monotonic()
        try:
            experiment = self.read_experiment()
        except StoreUnavailable as exc:
            log.warning("running experiment not re-read, keeping %s: %s", self.experiment, exc)
            self._fresh_until, self._failing = time.monotonic() + self.retry, True
            return
        self._fresh_until, self._failing = started + self.recheck, False
        if experiment is None:
            self._state, self.load_error = (None, {}), None
            return
        known, models = self._state
        same = known is not None and known.experiment_id == experiment.experiment_id
        if same and {experiment.control, experiment.challenger} <= models.keys():
            return
        self._state = (experiment, self._load_arms(experiment, models if same else {}))

    def _load_arms(self, experiment: Experiment, loaded: dict[str, SimilarItemsModel]) -> dict[str, SimilarItemsModel]:
        """Both arms by name; one that is already loaded (or served) is reused, one that fails is tried again
        at the next re-read."""
        models = dict(loaded)
        served = self.served()
        self.load_error = None
        for version in (experiment.control, experiment.challenger):
            if version in models:
                continue
            if served is not None and served.version == version:
                models[version] = served
                continue
            try:
                models[version] = SimilarItemsModel(self.store.version_path(version))
            except LOAD_ERRORS as exc:
                self.load_error = f"version {version} of experiment {experiment.experiment_id} does not load: {exc}"
                log.error(self.load_error)
        return models


__all__ = ["ArmChoice", "CHALLENGER", "CONTROL", "ExperimentHolder"]

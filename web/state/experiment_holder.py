"""The versions an A/B test serves, held next to the served model (web/state/model_holder.py).

While an experiment runs, each visitor is answered by their arm's version: the challenger, or the
control pinned by name when the experiment started (a rebuild that moves `current` meanwhile does not
change the control). A background thread re-reads the running experiment every POLL_SECONDS, so a
start or stop in one process reaches every process within about a second.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from recommender.index_store import IndexStore, IndexStoreError
from recommender.metrics.arms import CHALLENGER, CONTROL, assign_arm
from recommender.metrics.experiments import Experiment
from recommender.model import IndexLoadError, SimilarItemsModel
from recommender.store import StoreUnavailable
from web.state.background import ProcessThread

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ArmChoice:
    model: SimilarItemsModel
    arm: str
    experiment_id: str


class ExperimentHolder:
    """Per-process: the running experiment (if any) and the models of its two arms."""

    def __init__(self, store: IndexStore, served: Callable[[], SimilarItemsModel | None],
                 read_experiment: Callable[[], Experiment | None], interval: float = POLL_SECONDS):
        self.store = store
        self.served = served
        self.read_experiment = read_experiment
        self.interval = interval
        self.experiment: Experiment | None = None
        self.load_error: str | None = None
        self._models: dict[str, SimilarItemsModel] = {}
        self._lock = threading.Lock()
        self._watcher = ProcessThread(self, "refresh", self.interval, "experiment-watcher")
        self._read_once = False

    def running(self) -> bool:
        """Whether an experiment runs: only then does a request need a visitor id to pick its arm."""
        if not self._read_once:
            self.refresh()
        self._ensure_watcher()
        return self.experiment is not None

    def choose(self, visitor: str | None) -> ArmChoice | None:
        """The arm and model for this visitor, or None when no experiment runs (or its versions do not load)."""
        if not self.running():
            return None
        experiment, models = self.experiment, self._models
        if experiment is None:
            return None
        arm = assign_arm(visitor, experiment.experiment_id, experiment.share)
        model = models.get(experiment.challenger if arm == CHALLENGER else experiment.control)
        return ArmChoice(model, arm, experiment.experiment_id) if model is not None else None

    def refresh(self) -> None:
        """Re-read the running experiment; when the database cannot be reached, keep what we had."""
        try:
            experiment = self.read_experiment()
        except StoreUnavailable as exc:
            log.warning("running experiment not re-read, keeping %s: %s", self.experiment, exc)
            return
        with self._lock:
            self._read_once = True
            if experiment is None:
                self.experiment, self._models, self.load_error = None, {}, None
                return
            if self.experiment is not None and self.experiment.experiment_id == experiment.experiment_id:
                return
            self._models = self._load_arms(experiment)
            self.experiment = experiment

    def _load_arms(self, experiment: Experiment) -> dict[str, SimilarItemsModel]:
        models: dict[str, SimilarItemsModel] = {}
        served = self.served()
        for version in (experiment.control, experiment.challenger):
            if served is not None and served.version == version:
                models[version] = served
                continue
            try:
                models[version] = SimilarItemsModel(self.store.version_path(version))
            except (IndexLoadError, IndexStoreError, OSError, ValueError, KeyError) as exc:
                self.load_error = f"version {version} of experiment {experiment.experiment_id} does not load: {exc}"
                log.error(self.load_error)
        return models

    def _ensure_watcher(self) -> None:
        self._watcher.ensure()


__all__ = ["ArmChoice", "CHALLENGER", "CONTROL", "ExperimentHolder"]

"""Experiments between two index versions: start, read, stop; one running at a time."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from recommender.metrics.schema import ACTIVE, experiments

MIN_SHARE, MAX_SHARE = 0.01, 0.99


class ExperimentConflict(RuntimeError):
    """Another experiment is running, or this one has already stopped."""


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    control: str
    challenger: str
    share: float
    started_at: float
    stopped_at: float | None = None
    promoted: str | None = None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def as_dict(self) -> dict:
        return {"experiment_id": self.experiment_id, "control": self.control, "challenger": self.challenger,
                "share": self.share, "started_at": self.started_at, "stopped_at": self.stopped_at,
                "promoted": self.promoted, "running": self.running}


def share_problem(share) -> str | None:
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share):
        return "share must be a number"
    if not MIN_SHARE <= share <= MAX_SHARE:
        return f"share must be from {MIN_SHARE} to {MAX_SHARE}, got {share}"
    return None


def _experiment(row) -> Experiment:
    return Experiment(row.id, row.control, row.challenger, row.share, row.started_at, row.stopped_at, row.promoted)


def running(connection: Connection) -> Experiment | None:
    row = connection.execute(select(experiments).where(experiments.c.active == ACTIVE)).first()
    return _experiment(row) if row else None


def find(connection: Connection, experiment_id: str) -> Experiment | None:
    row = connection.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
    return _experiment(row) if row else None


def start(connection: Connection, control: str, challenger: str, share: float, now: float) -> Experiment:
    """Insert a running experiment; the unique `active` column refuses a second one even in a race."""
    if running(connection) is not None:
        raise ExperimentConflict("an experiment is already running: stop it first")
    experiment = Experiment(secrets.token_hex(8), control, challenger, float(share), now)
    try:
        with connection.begin_nested():
            connection.execute(experiments.insert().values(
                id=experiment.experiment_id, control=control, challenger=challenger, share=experiment.share,
                started_at=now, active=ACTIVE))
    except sa_exc.IntegrityError:
        raise ExperimentConflict("an experiment is already running: stop it first") from None
    return experiment


def stop(connection: Connection, experiment_id: str, promoted: str | None, now: float) -> Experiment:
    found = find(connection, experiment_id)
    if found is None:
        raise KeyError(experiment_id)
    if not found.running:
        raise ExperimentConflict(f"experiment {experiment_id} already stopped")
    connection.execute(update(experiments).where(experiments.c.id == experiment_id)
                       .values(stopped_at=now, promoted=promoted, active=None))
    return Experiment(found.experiment_id, found.control, found.challenger, found.share, found.started_at, now,
                      promoted)

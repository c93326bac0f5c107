"""The metrics side of the store of record: writing impressions and clicks, reading counts, experiments.

It shares the store's engine (same database, same migrations); every method is one transaction and
raises StoreUnavailable when the database cannot be reached.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.engine import Engine

from recommender.metrics import aggregate
from recommender.metrics import experiments as experiment_rows
from recommender.metrics.arms import ARMS, CHALLENGER, CONTROL
from recommender.metrics.experiments import Experiment
from recommender.metrics.schema import clicks, impressions
from recommender.metrics.stats import Rate, verdict
from recommender.store.engine import StoreUnavailable, writer
from recommender.store.store_of_record import guarded


class MetricsStore:
    """Impressions, clicks and experiments in the store's database (migrated by Store.open)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.writer = writer(engine)

    @guarded
    def write(self, impression_rows: list[dict], click_rows: list[dict]) -> None:
        with self.writer.begin() as connection:
            if impression_rows:
                connection.execute(impressions.insert(), impression_rows)
            if click_rows:
                connection.execute(clicks.insert(), click_rows)

    @guarded
    def version_metrics(self, since: float | None = None, until: float | None = None) -> list[dict]:
        with self.engine.connect() as connection:
            return aggregate.version_metrics(connection, since, until)

    @guarded
    def panel_metrics(self, since: float | None = None, until: float | None = None) -> list[dict]:
        with self.engine.connect() as connection:
            return aggregate.panel_metrics(connection, since, until)

    @guarded
    def daily_ctr(self, since: float | None = None, until: float | None = None) -> dict[str, list]:
        with self.engine.connect() as connection:
            return aggregate.daily_ctr(connection, since, until)

    @guarded
    def clicks_of(self, impression_id: str) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(clicks).where(clicks.c.impression_id == impression_id))
            return [dict(row._mapping) for row in rows]

    @guarded
    def running_experiment(self) -> Experiment | None:
        with self.engine.connect() as connection:
            return experiment_rows.running(connection)

    @guarded
    def experiment(self, experiment_id: str) -> Experiment | None:
        with self.engine.connect() as connection:
            return experiment_rows.find(connection, experiment_id)

    @guarded
    def start_experiment(self, control: str, challenger: str, share: float) -> Experiment:
        with self.writer.begin() as connection:
            return experiment_rows.start(connection, control, challenger, share, time.time())

    @guarded
    def stop_experiment(self, experiment_id: str, promoted: str | None) -> Experiment:
        with self.writer.begin() as connection:
            return experiment_rows.stop(connection, experiment_id, promoted, time.time())

    @guarded
    def experiment_report(self, experiment_id: str) -> dict | None:
        """The experiment with each arm's counts, CTR and interval, the z-test's p value and the verdict."""
        with self.engine.connect() as connection:
            found = experiment_rows.find(connection, experiment_id)
            if found is None:
                return None
            rates = aggregate.arm_rates(connection, experiment_id)
            panels = aggregate.arm_panel_rates(connection, experiment_id)
        rate = {arm: rates.get(arm, Rate(0, 0)) for arm in ARMS}
        p_value, said = verdict(rate[CONTROL], rate[CHALLENGER])
        shares = {CONTROL: 1 - found.share, CHALLENGER: found.share}
        versions = {CONTROL: found.control, CHALLENGER: found.challenger}
        arms = [{"arm": arm, "version": versions[arm], "share": shares[arm], **rate[arm].as_dict(),
                 "by_panel": {p: r.as_dict() for (a, p), r in sorted(panels.items()) if a == arm}} for arm in ARMS]
        return found.as_dict() | {"arms": arms, "p_value": p_value, "verdict": said}


def arm_versions(open_store) -> set[str] | None:
    """Both versions of the running experiment, which no build may prune (empty when none runs); None
    when the database cannot say. `open_store()` returns the process's Store or raises StoreUnavailable."""
    try:
        running = MetricsStore(open_store().engine).running_experiment()
    except StoreUnavailable:
        return None
    return {running.control, running.challenger} if running else set()

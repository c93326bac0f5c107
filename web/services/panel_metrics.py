"""What the metrics page and the admin metrics API both do: report CTR per version, start, report on and
stop A/B tests. Views only translate between HTTP and these calls."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable

from recommender.metrics.chart import daily_ctr_svg
from recommender.metrics.experiments import ExperimentConflict, share_problem
from recommender.metrics.store import MetricsStore
from recommender.store import StoreUnavailable
from recommender.store.event_validation import parse_timestamp
from web.extensions import index_store, model_holder
from web.services import admin_actions
from web.services.tracking import tracking

DEFAULT_SHARE = 0.5


class DatabaseUnavailable(ServiceUnavailable):
    description = "The database cannot be reached: metrics and experiments are unavailable. Pages still work."


def _metrics(create: bool = False) -> MetricsStore | None:
    try:
        return tracking().database.metrics(create=create)
    except StoreUnavailable as exc:
        raise DatabaseUnavailable(f"{DatabaseUnavailable.description} ({exc})") from None


def _call(action, create: bool = False, empty=None):
    """Run `action(metrics_store)`; `empty` when no database exists yet; 503 when it cannot be reached."""
    metrics = _metrics(create)
    if metrics is None:
        return empty
    try:
        return action(metrics)
    except StoreUnavailable as exc:
        raise DatabaseUnavailable(f"{DatabaseUnavailable.description} ({exc})") from None


def parse_moment(name: str, raw: str | None) -> float | None:
    """since= / until=: Unix seconds or an ISO 8601 date (UTC unless it says otherwise)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    seconds = parse_timestamp(float(text)) if text.replace(".", "", 1).isdecimal() else parse_timestamp(text)
    if seconds is None:
        raise BadRequest(f"{name} must be Unix seconds or an ISO 8601 date such as 2024-05-01, got {raw[:40]!r}")
    return seconds


def version_metrics(since: float | None, until: float | None) -> list[dict]:
    return _call(lambda m: m.version_metrics(since, until), empty=[])


def per_panel(since: float | None, until: float | None) -> list[dict]:
    """Impressions, clicks and CTR per list (similar, for-you, trending, ...), each also per version."""
    return _call(lambda m: m.panel_metrics(since, until), empty=[])


def daily_chart(since: float | None, until: float | None) -> str:
    return daily_ctr_svg(_call(lambda m: m.daily_ctr(since, until), empty={}), version_labels())


def version_labels() -> dict[str, str]:
    """The admins' labels of kept versions, shown wherever versions are picked."""
    return index_store().labels()


def kept_versions() -> list[str]:
    return [m["version"] for m in index_store().versions() if "error" not in m]


def start_experiment(challenger, share) -> dict:
    """Control = the version served now; the challenger any other kept version. 409 while one runs."""
    served = model_holder().model
    if served is None:
        raise Conflict("No index is served yet, so there is no control version to test against.")
    if not isinstance(challenger, str) or challenger not in kept_versions():
        raise BadRequest(f"challenger must be one of the kept versions: {', '.join(kept_versions())}")
    if challenger == served.version:
        raise BadRequest(f"challenger {challenger} is the version served now (the control): choose another")
    share = DEFAULT_SHARE if share is None else share
    problem = share_problem(share)
    if problem:
        raise BadRequest(problem)
    try:
        experiment = _call(lambda m: m.start_experiment(served.version, challenger, share), create=True)
    except ExperimentConflict as exc:
        raise Conflict(str(exc)) from None
    tracking().experiments.settle()  # every process answers from it once this returns
    return experiment.as_dict()


def experiment_report(experiment_id: str) -> dict:
    report = _call(lambda m: m.experiment_report(experiment_id))
    if report is None:
        raise NotFound(f"No experiment with id {experiment_id}.")
    return report


def running_report() -> dict | None:
    running = _call(lambda m: m.running_experiment())
    return experiment_report(running.experiment_id) if running else None


def stop_experiment(experiment_id: str, promote) -> dict:
    """Stop; promoting queues the rollback job first, so a refused queue leaves the experiment running."""
    found = _call(lambda m: m.experiment(experiment_id))
    if found is None:
        raise NotFound(f"No experiment with id {experiment_id}.")
    if not found.running:
        raise Conflict(f"Experiment {experiment_id} already stopped.")
    if promote is not None and promote not in (found.control, found.challenger):
        raise BadRequest(f"promote must be {found.control} (control), {found.challenger} (challenger) or null")
    job_id = admin_actions.request_rollback(promote, why="promotion") if promote else None
    try:
        _call(lambda m: m.stop_experiment(experiment_id, promote))
    except ExperimentConflict as exc:
        raise Conflict(str(exc)) from None
    tracking().experiments.settle()  # every process answers from it once this returns
    return experiment_report(experiment_id) | {"promote_job_id": job_id}


def tracking_status() -> dict:
    """This process's buffer counters, for /admin (each web process keeps its own)."""
    state = tracking()
    return state.buffer.counters.as_dict() | {"pending": state.buffer.pending(), "enabled": state.enabled,
                                              "experiment_load_error": state.experiments.load_error}


def panel_state() -> dict:
    """Everything the experiment partial shows; a database that is down is said, not raised."""
    state = {"tracking": tracking_status(), "versions": kept_versions(), "experiment": None, "error": None,
             "labels": version_labels()}
    served = model_holder().model
    state["control"] = served.version if served else None
    try:
        state["experiment"] = running_report()
    except DatabaseUnavailable as exc:
        state["error"] = exc.description
    return state

"""What the admin page and the admin API both do: queue rebuilds, uploads and rollbacks, report on
jobs, and summarise the served index. Views only translate between HTTP and these calls."""

from __future__ import annotations

import time
from collections import Counter

import redis
from flask import current_app
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable

from recommender.catalog.sources import UploadStore
from recommender.index_store import IndexStoreError, read_manifest
from recommender.neighbours.version_marks import label_problem, why_problem
from web.extensions import index_store, model_holder, serving_registry, settings
from web.services import store_writes
from web.services.served_catalog import served_catalog
from web.services.uploads import save_upload
from worker.queue import (
    PUBLISH_KIND,
    REPLACE,
    RESTORE_CATALOG_TASK,
    ROLLBACK_TASK,
    UPLOAD_MODES,
    JobQueue,
    JobQueueUnavailable,
    JobStatus,
    job_queue_for,
)

ROLLBACK_WAIT_SECONDS = 10


class QueueUnavailable(ServiceUnavailable):
    description = "Job queue unavailable: Redis cannot be reached. Searches still work; try this again shortly."


def job_queue() -> JobQueue:
    if not settings().redis_url:
        raise QueueUnavailable("Job queue unavailable: REDIS_URL is not set, so no worker can be reached.")
    return job_queue_for(current_app)


def queue_call(action):
    """Run `action(queue)`, turning an unreachable Redis into a 503 that says searches still work."""
    try:
        return action(job_queue())
    except JobQueueUnavailable as exc:
        raise QueueUnavailable(f"{exc}. Searches still work; try this again shortly.") from None


def job(job_id: str) -> JobStatus:
    found = queue_call(lambda q: q.status(job_id))
    if found is None:
        raise NotFound(f"No job with id {job_id}.")
    return found


def recent_jobs() -> list[JobStatus]:
    return queue_call(lambda q: q.recent())


def request_rebuild() -> tuple[str, bool]:
    return queue_call(lambda q: q.request_rebuild())


def upload_catalog(items: FileStorage | None, interactions: FileStorage | None, mode: str = REPLACE,
                   clear_events: bool = False) -> str:
    """Validate and keep the upload, then queue writing it into the store (replace or merge) and a
    build; raises CatalogError with every problem. If the job cannot be queued, the upload is removed."""
    if mode not in UPLOAD_MODES:
        raise BadRequest(f"mode must be one of {', '.join(UPLOAD_MODES)}, got {mode[:20]!r}")
    if clear_events and mode != REPLACE:
        raise BadRequest("clear_events works only with mode replace: a merge adds events and removes none.")
    job_queue()  # refuse early, before saving files, when no queue is configured
    uploads = UploadStore(settings().uploads_dir)
    upload_id, files = save_upload(uploads, items, interactions)
    names = {"items": files.items.name, **({"interactions": files.interactions.name} if files.interactions else {})}
    try:
        return queue_call(lambda q: q.request_catalog_build(upload_id, names, mode, clear_events))
    except QueueUnavailable:
        uploads.discard(upload_id)
        raise


def _version_job(task: str, kind: str, version: str, **extra) -> str:
    """Queue a job about one kept version; 404 when no such version is kept."""
    kept_version(version)
    return queue_call(lambda q: q.request_task(task, kind, {"version": version, **extra}))


def kept_version(version: str) -> str:
    """`version` when it is kept, else 404 naming the field."""
    try:
        index_store().version_path(version)
    except IndexStoreError as exc:
        raise NotFound(f"version: {exc}: choose one of the kept versions.") from None
    return version


def request_rollback(version: str, why: str = "rollback", restore_rules: bool = False) -> str:
    """Serve a kept version again and pin it (`why`: rollback, or promotion after an A/B test); with
    `restore_rules`, the merchandising rules go back to those in force when it was built."""
    extra = ({} if why == "rollback" else {"why": why}) | ({"restore_rules": True} if restore_rules else {})
    return _version_job(ROLLBACK_TASK, "rollback", version, **extra)


def request_publish(version: str) -> str:
    """Publish a kept build by hand (one the pin kept waiting or the quality gate held back). A pin set
    before moves to it; none is set."""
    return _version_job(ROLLBACK_TASK, PUBLISH_KIND, version, why=None)


def held_back_reason(version: str) -> str | None:
    """The quality gate's reason for holding `version` back, if it did (the warning of publishing it)."""
    try:
        held = read_manifest(index_store().version_path(version)).get("held_back")
    except IndexStoreError:
        return None
    return held.get("reason") if isinstance(held, dict) else None


def pin(why: str | None = None) -> dict:
    """Pin the served version: automatic builds go on building and evaluating, but publish nothing."""
    if problem := why_problem(why):
        raise BadRequest(problem)
    try:
        return index_store().pin(why or "pinned by an admin")
    except IndexStoreError as exc:
        raise Conflict(str(exc)) from None


def unpin() -> None:
    index_store().unpin()


def set_label(version: str, label) -> str | None:
    """Label a kept version (null or "" removes it); labelled versions are never pruned."""
    if problem := label_problem(label):
        raise BadRequest(problem)
    kept_version(version)
    try:
        index_store().set_label(version, label or None)
    except IndexStoreError as exc:
        raise NotFound(f"version: {exc}") from None
    return label or None


def request_catalog_restore(version: str) -> str:
    """Write the items `version` was built from back into the store (replace), e.g. after a rollback."""
    return _version_job(RESTORE_CATALOG_TASK, "restore catalog", version)


def store_state() -> dict:
    """The store's counts and next automatic rebuild, or why they cannot be read right now."""
    try:
        return store_writes.store_summary()
    except store_writes.StoreDown as exc:
        return {"error": exc.description}


def wait_for_rollback(job_id: str) -> JobStatus | None:
    """A rollback is quick: wait briefly so the API can answer with its outcome."""
    return queue_call(lambda q: q.wait(job_id, ROLLBACK_WAIT_SECONDS))


def served_everywhere(version: str) -> dict | None:
    """Wait (bounded) until every web process that reports to Redis serves `version`, read after the switch
    that just finished; what they serve then. None when there is no Redis to ask."""
    since = time.time()
    model_holder().watch_once()  # this process's round now: it reports before the others are asked
    registry = serving_registry()
    if registry is None:
        return None
    try:
        return registry.wait_until_served(version, since).as_dict()
    except redis.exceptions.RedisError as exc:
        return {"agreed": None, "error": f"Redis cannot be reached to ask the other processes: {exc}"}


def processes_serving() -> dict | None:
    """How many web processes serve which version right now (None without Redis)."""
    registry = serving_registry()
    if registry is None:
        return None
    try:
        serving = registry.serving()
    except redis.exceptions.RedisError as exc:
        return {"error": f"Redis cannot be reached: {exc}"}
    return {"processes": len(serving), "versions": dict(Counter(serving.values()))}


def index_summary() -> dict:
    store = index_store()
    holder = model_holder()
    model = holder.model
    stored = store_state()
    return {
        "current": model.manifest if model else None,
        "serving": model.version if model else None,
        "published": store.current_version(),
        "versions": (versions := store.versions()),
        "pinned": store.pinned(),
        "waiting": sum(1 for v in versions if v.get("waiting")),
        "keep": store.keep,
        "load_error": ({"version": holder.failure.version, "reason": holder.failure.reason}
                       if holder.failure else None),
        "store": stored,
        "catalog": served_catalog(model.manifest if model else None, stored),
        "processes": processes_serving(),
    }

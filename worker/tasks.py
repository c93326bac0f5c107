"""The jobs: rebuild (from the store of record, after writing an upload into it), rollback and
restoring a version's catalog into the store, each under the build lock.

A build loads, builds and checks in a staging directory, then publishes with one atomic rename;
anything that fails before that leaves the served version and the active catalog as they were.
"""

from __future__ import annotations

import errno
import shutil

from celery import shared_task
from flask import current_app

import recommender.builder  # noqa: F401  (the build stack loads before Celery forks its pool, not in each job)
from recommender.catalog.load import CatalogError
from recommender.catalog.sources import ActiveCatalog, CatalogFiles, CatalogSource, ReadOnce, UnknownUpload, UploadStore
from recommender.index_store import IndexStore, IndexStoreError
from recommender.layout import BuildError
from recommender.metrics.store import arm_versions
from recommender.model import IndexLoadError, SimilarItemsModel
from recommender.pipeline import Release, build_release
from recommender.rules.rule_release import restore_version_rules
from recommender.settings import Settings
from recommender.store import DatabaseCatalogSource, Store, StoreUnavailable
from recommender.store.release import restore_release_catalog, serve_release
from worker.queue import (
    AUTO_REASON,
    MERGE,
    PERIODIC_REASON,
    REBUILD_TASK,
    REPLACE,
    RESTORE_CATALOG_TASK,
    ROLLBACK_TASK,
    BuildLock,
    JobQueue,
    job_queue_for,
)

LOCK_WAIT_STAGE = "waiting for the build lock"  # a job in this stage can still be joined
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
AUTOMATIC_TRIGGERS = ("items", "events", "schedule")  # builds the pin and the quality gate may keep unpublished
DISK_NEARLY_FULL_BYTES = 16 * 2**20


class RebuildFailed(RuntimeError):
    """A job that published nothing; the message says what to do about it."""


def settings() -> Settings:
    return current_app.extensions["settings"]


def job_queue() -> JobQueue:
    return job_queue_for(current_app)


def index_store() -> IndexStore:
    return IndexStore(settings().index_dir)


def build_lock(queue: JobQueue, job_id: str | None = None) -> BuildLock:
    return queue.build_lock(settings().build_lock_seconds, job_id=job_id)


def store_of_record() -> Store:
    try:
        return current_app.extensions["store_of_record"].get()
    except StoreUnavailable as exc:
        raise RebuildFailed(f"{exc}; nothing was built") from None


def store_source(store: Store) -> DatabaseCatalogSource:
    """What every build reads: the store of record, with this deployment's weights and horizon."""
    return DatabaseCatalogSource(store, weights=settings().event_weight_table, horizon_days=settings().event_days)


def _first_catalog(store: Store) -> None:
    """A store that never held a catalog takes the data dir's files (the demo's on a fresh install)."""
    if store.summary()["items"] == 0 and store.summary()["files_imported_at"] is None:
        files, _demo = ActiveCatalog(settings().catalog_dir).files_or_demo()
        store.import_files_once(files.items.parent)


def _upload(upload_id: str) -> CatalogFiles:
    try:
        return UploadStore(settings().uploads_dir).files(upload_id)
    except UnknownUpload as exc:
        raise RebuildFailed(str(exc)) from None


def _write_upload(store: Store, files: CatalogSource, mode: str, clear_events: bool = False,
                  release: str | None = None) -> dict:
    """Write a validated upload into the store, all or nothing (replace: the whole catalog, its
    interactions replacing earlier uploads' and, with clear_events, every event; merge: upsert)."""
    try:
        catalog = files.load()
        if mode == MERGE:
            return store.merge_catalog(catalog.items, catalog.interactions)
        return store.replace_catalog(catalog.items, catalog.interactions, clear_events=clear_events, release=release)
    except CatalogError as exc:
        raise RebuildFailed(f"the catalog is not valid: {exc}") from None
    except StoreUnavailable as exc:
        raise RebuildFailed(f"{exc}; nothing was written") from None


def _build_upload(index: IndexStore, upload_id: str, mode: str, job_id: str, progress,
                  clear_events: bool = False) -> tuple[Release, dict]:
    """A replacing upload is built from its files first and written into the store only when its
    build published, so an upload that cannot be built changes nothing. A merge needs the stored
    catalog around it, so it is written first and the store is built."""
    files, store = ReadOnce(_upload(upload_id)), store_of_record()
    if mode == MERGE:
        written = _write_upload(store, files, mode)
        return _build(index, store_source(store), job_id, progress, trigger="upload"), written
    release = _build(index, files, job_id, progress, trigger="upload")
    return release, _write_upload(store, files, mode, clear_events, release=release.version)


def _build_store(index: IndexStore, job_id: str, progress, reuse_tuning: bool = False,
                 trigger: str = "manual") -> Release:
    store = store_of_record()
    try:
        _first_catalog(store)
    except StoreUnavailable as exc:
        raise RebuildFailed(f"{exc}; nothing was built") from None
    return _build(index, store_source(store), job_id, progress, reuse_tuning, trigger)


def experiment_versions() -> set[str] | None:
    """Both arms of the running experiment (never pruned); None when the database cannot say."""
    return arm_versions(current_app.extensions["store_of_record"].get)


def _write_failure(exc: OSError) -> RebuildFailed:
    """Name the cause an operator can act on: a full disk, or a data dir we may not write."""
    full = exc.errno in DISK_FULL_ERRNOS
    if not full:
        try:
            full = shutil.disk_usage(settings().data_dir).free < DISK_NEARLY_FULL_BYTES
        except OSError:
            full = False
    hint = "the disk is full" if full else "the data dir is not writable"
    return RebuildFailed(f"could not write the index ({hint}: {exc.strerror or exc}); nothing was published")


def _build(store: IndexStore, source: CatalogSource, job_id: str, progress, reuse_tuning: bool = False,
           trigger: str = "manual") -> Release:
    """Build and publish; an automatic build (after changes, or periodic) may be kept instead."""
    try:
        return build_release(store, source, build_id=job_id, progress=progress, reuse_tuning=reuse_tuning,
                             trigger=trigger, automatic=trigger in AUTOMATIC_TRIGGERS,
                             protected=experiment_versions())
    except StoreUnavailable as exc:
        raise RebuildFailed(f"{exc}; nothing was published") from None
    except CatalogError as exc:
        raise RebuildFailed(f"the catalog is not valid: {exc}") from None
    except (BuildError, IndexLoadError) as exc:
        raise RebuildFailed(str(exc)) from None
    except OSError as exc:
        raise _write_failure(exc) from None


@shared_task(bind=True, name=REBUILD_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def rebuild_index(self, upload_id: str | None = None, reason: str = "manual", mode: str = REPLACE,
                  clear_events: bool = False) -> dict:
    """Build a new index version from the store of record; with an upload (named by its id), write
    the upload into the store first (replace or merge; clear_events with replace also removes the
    events the API received). An automatic rebuild after changes waits
    until they pause (or the ceiling), then reads everything stored up to its start, and reuses the
    served version's tuned settings instead of a full evaluation where the catalog kept its shape;
    manual rebuilds and uploads always evaluate in full."""
    queue, store = job_queue(), index_store()
    if reason == AUTO_REASON and (wait := queue.auto_rebuild_wait(settings().rebuild_after_seconds,
                                                                  settings().rebuild_at_most_every)):
        return {"deferred_to": queue.defer_auto_rebuild(self.request.id, wait), "stage": "deferred",
                "progress": 100, "reason": reason}

    def progress(stage: str, percent: int) -> None:
        self.update_state(state="PROGRESS", meta={"stage": stage, "progress": percent})

    progress(LOCK_WAIT_STAGE, 1)
    with build_lock(queue, job_id=self.request.id):
        queue.stop_waiting(self.request.id)
        if existing := store.find_build(self.request.id):
            return {"index_version": existing, "stage": "done", "progress": 100, "reason": reason}
        trigger = {PERIODIC_REASON: "schedule"}.get(reason, "manual")
        if reason == AUTO_REASON:
            trigger = queue.auto_rebuild_starts(self.request.id)
        store.clear_staging()
        written = None
        try:
            if upload_id:
                release, written = _build_upload(store, upload_id, mode, self.request.id, progress, clear_events)
            else:
                release = _build_store(store, self.request.id, progress, reuse_tuning=reason == AUTO_REASON,
                                       trigger=trigger)
        finally:
            if upload_id:
                UploadStore(settings().uploads_dir).discard(upload_id)
    return {"index_version": release.version, "stage": "done", "progress": 100, "reason": reason,
            "written": written, **release_result(release)}


def release_result(release: Release) -> dict:
    """What the job result adds about publishing: kept and why, or nothing built from unchanged inputs."""
    if release.unchanged:
        return {"published": False, "unchanged": True,
                "message": f"nothing changed since version {release.version} was built: no new version"}
    result = {"published": release.kept is None, "same_inputs_as": release.same_inputs_as}
    if release.kept == "pinned":
        result["message"] = f"kept, not published: version {release.version} waits while the index is pinned"
    elif release.kept:
        result.update(held_back=release.held_back, message=f"held back: {release.held_back['reason']}")
    return result


@shared_task(name=ROLLBACK_TASK, acks_late=True)
def rollback_index(version: str, why: str | None = "rollback", restore_rules: bool = False) -> dict:
    """Serve a kept version again, once it is checked to load, under the build lock so it cannot interleave
    with a publish. A rollback or a promotion (`why`) restores the catalog it was built from too (items,
    hidden or deleted state, attributes; events stay) and pins it; publishing a kept build by hand
    (`why` None) only moves `current` (and a pin set before): that build was made from the store as it is."""
    with build_lock(job_queue()):
        restored = _restore_release(version, why)
        if restore_rules:  # the merchandising rules as they were when the version was built, only when asked
            try:
                restored |= restore_version_rules(index_store(), store_of_record(), version)
            except StoreUnavailable as exc:
                raise RebuildFailed(f"rolled back to {version}, but the rules were not restored: {exc}") from None
    return {"index_version": version, "stage": "done", "progress": 100, **restored}


def _restore_release(version: str, why: str | None) -> dict:
    """Switch `current` to `version` (and, for a rollback, the store to its catalog) in one step; returns
    what it restored. Anything that fails leaves the served version and the stored catalog as they were."""
    store = index_store()
    try:
        SimilarItemsModel(store.version_path(version))
        if why is None:
            store.rollback(version)
            return {"version": version, "catalog": None}
        return serve_release(store, store_of_record(), version, pin_why=why)
    except (IndexStoreError, IndexLoadError, OSError) as exc:
        raise RebuildFailed(f"cannot roll back to {version}: {exc}") from None
    except StoreUnavailable as exc:
        raise RebuildFailed(f"cannot roll back to {version}: {exc}; nothing was changed") from None


@shared_task(name=RESTORE_CATALOG_TASK, acks_late=True)
def restore_catalog(version: str) -> dict:
    """Write the items a kept version was built from back into the store (replace, hidden ones hidden),
    without changing what is served. Events are a log and stay as they are."""
    with build_lock(job_queue()):
        try:
            written = restore_release_catalog(index_store(), store_of_record(), version)
        except IndexStoreError as exc:
            raise RebuildFailed(f"cannot restore the catalog of {version}: {exc}") from None
        except StoreUnavailable as exc:
            raise RebuildFailed(f"{exc}; the store was not changed") from None
        if written is None:
            raise RebuildFailed(f"version {version} was built before catalogs were kept with versions")
    return {"index_version": version, "stage": "done", "progress": 100, "written": written}

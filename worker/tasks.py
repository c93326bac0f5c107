"""The jobs: rebuild (from the active catalog or an upload) and rollback, each under the build lock.

A build loads, builds and checks in a staging directory, then publishes with one atomic rename;
anything that fails before that leaves the served version and the active catalog as they were.
"""

from __future__ import annotations

import errno
import shutil

from celery import shared_task
from flask import current_app

from recommender.builder import BuildError
from recommender.catalog import CatalogError
from recommender.catalog_source import ActiveCatalog, CatalogFiles, UnknownUpload, UploadStore
from recommender.index_store import IndexStore, IndexStoreError
from recommender.model import IndexLoadError, SimilarItemsModel
from recommender.pipeline import build_and_publish
from recommender.settings import Settings
from worker.queue import REBUILD_TASK, ROLLBACK_TASK, BuildLock, JobQueue, job_queue_for

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
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


def _source(upload_id: str | None) -> CatalogFiles:
    if upload_id:
        try:
            return UploadStore(settings().uploads_dir).files(upload_id)
        except UnknownUpload as exc:
            raise RebuildFailed(str(exc)) from None
    return ActiveCatalog(settings().catalog_dir).files_or_demo()[0]


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


def _build(store: IndexStore, source: CatalogFiles, job_id: str, progress) -> str:
    try:
        return build_and_publish(store, source, build_id=job_id, progress=progress)
    except CatalogError as exc:
        raise RebuildFailed(f"the catalog is not valid: {exc}") from None
    except (BuildError, IndexLoadError) as exc:
        raise RebuildFailed(str(exc)) from None
    except OSError as exc:
        raise _write_failure(exc) from None


@shared_task(bind=True, name=REBUILD_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def rebuild_index(self, upload_id: str | None = None, reason: str = "manual") -> dict:
    """Build a new index version from the active catalog, or from an upload (named by its id)."""
    queue, store = job_queue(), index_store()

    def progress(stage: str, percent: int) -> None:
        self.update_state(state="PROGRESS", meta={"stage": stage, "progress": percent})

    progress("waiting for the build lock", 1)
    with build_lock(queue, job_id=self.request.id):
        queue.stop_waiting(self.request.id)
        if existing := store.find_build(self.request.id):
            return {"index_version": existing, "stage": "done", "progress": 100, "reason": reason}
        store.clear_staging()
        try:
            source = _source(upload_id)
            version = _build(store, source, self.request.id, progress)
            if upload_id:
                ActiveCatalog(settings().catalog_dir).replace_with(source)
        finally:
            if upload_id:
                UploadStore(settings().uploads_dir).discard(upload_id)
    return {"index_version": version, "stage": "done", "progress": 100, "reason": reason}


@shared_task(name=ROLLBACK_TASK, acks_late=True)
def rollback_index(version: str) -> dict:
    """Serve a kept version again, once it is checked to load; under the build lock so it cannot
    interleave with a publish."""
    store = index_store()
    with build_lock(job_queue()):
        try:
            SimilarItemsModel(store.version_path(version))
            store.rollback(version)
        except (IndexStoreError, IndexLoadError) as exc:
            raise RebuildFailed(f"cannot roll back to {version}: {exc}") from None
    return {"index_version": version, "stage": "done", "progress": 100}

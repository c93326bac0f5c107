"""The rebuild task: load, build and check in a staging directory, then publish atomically."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from celery import shared_task
from flask import current_app

from recommender.builder import BuildError
from recommender.catalog import CatalogError
from recommender.catalog_source import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStoreError
from recommender.model import IndexLoadError
from recommender.pipeline import build_and_publish
from worker import REBUILD_TASK, ROLLBACK_TASK
from worker.jobs import JobQueue, job_queue_for


class RebuildFailed(RuntimeError):
    """A rebuild that published nothing; the message says what to do about it."""


def job_queue() -> JobQueue:
    return job_queue_for(current_app)


def build_lock(queue: JobQueue, job_id: str | None = None):
    return queue.build_lock(current_app.config.get("BUILD_LOCK_SECONDS", 120), job_id=job_id)


def _catalog_files(upload_dir: str | None) -> tuple[CatalogFiles, ActiveCatalog]:
    active = ActiveCatalog(Path(current_app.config["DATA_DIR"]) / "catalog")
    if upload_dir:
        files = CatalogFiles.in_directory(Path(upload_dir))
        if files is None:
            raise RebuildFailed(f"the uploaded catalog in {upload_dir} is gone: upload it again")
        return files, active
    return active.files_or_demo()[0], active


@shared_task(bind=True, name=REBUILD_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def rebuild_index(self, upload_dir: str | None = None, reason: str = "manual") -> dict:
    """Build a new index version from the active catalog, or from an uploaded one."""
    queue = job_queue()
    store = current_app.extensions["index_store"]

    def progress(stage: str, percent: int) -> None:
        self.update_state(state="PROGRESS", meta={"stage": stage, "progress": percent})

    progress("waiting for the build lock", 1)
    with build_lock(queue, job_id=self.request.id):
        queue.stop_waiting(self.request.id)
        store.clear_staging()
        files, active = _catalog_files(upload_dir)
        try:
            version = build_and_publish(store, files, build_id=self.request.id, progress=progress)
        except CatalogError as exc:
            raise RebuildFailed(f"the catalog is not valid: {exc}") from None
        except (BuildError, IndexLoadError) as exc:
            raise RebuildFailed(str(exc)) from None
        except OSError as exc:
            hint = "the disk is full" if exc.errno == errno.ENOSPC else "the data dir is not writable"
            raise RebuildFailed(f"could not write the index ({hint}: {exc.strerror or exc}); "
                                "nothing was published") from None
        if upload_dir:
            active.replace_with(files)
            shutil.rmtree(upload_dir, ignore_errors=True)
    return {"index_version": version, "stage": "done", "progress": 100, "reason": reason}


@shared_task(name=ROLLBACK_TASK, acks_late=True)
def rollback_index(version: str) -> dict:
    """Serve a kept version again; under the build lock so it cannot interleave with a publish."""
    store = current_app.extensions["index_store"]
    with build_lock(job_queue()):
        try:
            store.rollback(version)
        except IndexStoreError as exc:
            raise RebuildFailed(f"cannot roll back: {exc}") from None
    return {"index_version": version, "stage": "done", "progress": 100}

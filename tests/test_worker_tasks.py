"""The worker's tasks run eagerly in the worker's own slim app (issue 11: rollback checks, uploads of
failed builds, the disk-full message)."""

from __future__ import annotations

import errno

import recommender.neighbours.annoy_index
import recommender.neighbours.disk_space
import worker.tasks
from recommender.catalog.sources import UploadStore
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.test_faults import names, no_space
from worker.queue import REBUILD_TASK, ROLLBACK_TASK


def test_rollback_to_a_broken_version_fails_and_keeps_serving(run_task, tmp_path):
    store = IndexStore(run_task.data_dir / "indexes")
    broken = store.current_version()
    newest = build_and_publish(store, make_catalog(tmp_path / "next", n_items=70, seed=5))
    (store.version_path(broken) / "neighbours.npy").write_bytes(b"not an array")
    result = run_task(ROLLBACK_TASK, version=broken)
    assert result.failed(), result.result
    assert broken in str(result.result) and "roll back" in str(result.result)
    assert store.current_version() == newest, "current moved to a version that does not load"


def test_rollback_to_a_good_version_succeeds(run_task, tmp_path):
    store = IndexStore(run_task.data_dir / "indexes")
    first = store.current_version()
    build_and_publish(store, make_catalog(tmp_path / "next", n_items=70, seed=5))
    result = run_task(ROLLBACK_TASK, version=first)
    assert result.successful(), result.result
    assert store.current_version() == first


def test_a_failed_upload_build_removes_its_upload(run_task, monkeypatch):
    uploads = UploadStore(run_task.data_dir / "uploads")
    upload_id, directory = uploads.new()
    files = make_catalog(directory, n_items=40, with_interactions=False)
    assert files.items.exists()
    calls = []
    monkeypatch.setattr(recommender.neighbours.annoy_index.np, "save", no_space(calls))
    result = run_task(REBUILD_TASK, upload_id=upload_id)
    assert calls and result.failed()
    assert "disk is full" in str(result.result), result.result
    assert names(run_task.data_dir / "uploads") == [], "the failed build left its upload behind"


def test_a_job_never_takes_a_path(run_task):
    result = run_task(REBUILD_TASK, upload_id="../../catalog")
    assert result.failed() and "not an upload id" in str(result.result), result.result


def test_a_write_error_on_a_nearly_full_disk_says_the_disk_is_full(run_task, monkeypatch):
    """Some writers (Annoy) report a full disk without ENOSPC: the free space decides the message."""
    calls = []

    def failing_save(*args, **kwargs):
        calls.append(1)
        raise OSError(errno.EIO, "write failed")
    monkeypatch.setattr(recommender.neighbours.annoy_index.np, "save", failing_save)
    monkeypatch.setattr(worker.tasks.shutil, "disk_usage", lambda path: type("U", (), {"free": 1024})())
    # the disk fills after the check
    monkeypatch.setattr(recommender.neighbours.disk_space, "free_bytes", lambda path: 2**40)
    result = run_task(REBUILD_TASK)
    assert calls and "disk is full" in str(result.result), result.result

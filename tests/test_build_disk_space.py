"""A build checks free space before Annoy maps its file (a full disk there is SIGBUS, not an error):
too little space fails cleanly with ENOSPC, writes no forest and leaves no staging directory."""

from __future__ import annotations

import errno
import uuid

import fakeredis
import pytest

import recommender.neighbours.annoy_index
import recommender.neighbours.disk_space
import worker.tasks
from recommender.index_store import IndexStore, read_manifest
from recommender.limits import INDEX_SPACE_SLACK_BYTES
from recommender.neighbours.disk_space import NotEnoughSpace, estimated_index_bytes
from recommender.pipeline import build_and_publish
from recommender.settings import Settings
from tests.helpers.catalogs import make_catalog, small_data_dir
from worker.app import create_worker_app
from worker.queue import REBUILD_TASK, JobQueue

NEARLY_FULL_BYTES = int(8.9 * 2**20)  # what the disk had left in the report


def pretend_nearly_full(monkeypatch) -> list:
    """From now on the disk under the data dir reports 8.9 MB free; records whether Annoy ever started a forest."""
    forests = []
    original = recommender.neighbours.annoy_index._build_annoy
    monkeypatch.setattr(recommender.neighbours.disk_space, "free_bytes", lambda directory: NEARLY_FULL_BYTES)
    monkeypatch.setattr(recommender.neighbours.annoy_index, "_build_annoy",
                        lambda *a, **k: forests.append(1) or original(*a, **k))
    return forests


def tree_bytes(directory) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def test_a_build_on_a_nearly_full_disk_fails_before_writing_the_index(tmp_path, monkeypatch):
    store = IndexStore(tmp_path / "indexes")
    nearly_full = pretend_nearly_full(monkeypatch)
    with pytest.raises(NotEnoughSpace) as raised:
        build_and_publish(store, make_catalog(tmp_path / "catalog", n_items=60))
    assert raised.value.errno == errno.ENOSPC and "MiB free" in str(raised.value)
    assert nearly_full == [], "Annoy started a forest on a disk that cannot hold it"
    assert store.current_version() is None
    assert list(store.staging_root.iterdir()) == [], "the failed build left its staging directory"


def test_the_rebuild_job_says_the_disk_is_full(tmp_path, monkeypatch):
    data_dir = small_data_dir(tmp_path, n_items=60)
    nearly_full = pretend_nearly_full(monkeypatch)
    before = IndexStore(data_dir / "indexes").current_version()
    settings = Settings(data_dir=data_dir, redis_url="redis://unused", secret_key="s", admin_token="t")
    app = create_worker_app(settings, {"task_always_eager": True, "result_backend": "cache+memory://"})
    queue = JobQueue(fakeredis.FakeRedis(decode_responses=True), app.extensions["celery"], "t:")
    monkeypatch.setattr(worker.tasks, "job_queue", lambda: queue)
    with app.app_context():
        result = app.extensions["celery"].tasks[REBUILD_TASK].apply(task_id=str(uuid.uuid4()))
    assert result.failed() and nearly_full == []
    assert "could not write the index (the disk is full" in str(result.result), result.result
    assert IndexStore(data_dir / "indexes").current_version() == before
    assert list((data_dir / "indexes" / "staging").iterdir()) == []


def test_the_estimate_covers_what_a_build_writes(tmp_path):
    store = IndexStore(tmp_path / "indexes")
    version = build_and_publish(store, make_catalog(tmp_path / "catalog", n_items=400, n_users=120))
    dims = read_manifest(store.version_path(version))["dimensions"]
    written = tree_bytes(store.version_path(version))
    assert written <= estimated_index_bytes(400, dims) - INDEX_SPACE_SLACK_BYTES

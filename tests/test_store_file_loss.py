"""A SQLite store file deleted or replaced under running processes: writes and reads are refused
(503 naming what happened), /readyz fails, builds refuse to read it, and no process creates a new,
empty store in a data dir that had one. Real SQLite files throughout."""

from __future__ import annotations

import os
import sqlite3

import fakeredis
import pytest

from recommender.store import DatabaseCatalogSource, Store
from recommender.store.file_guard import StoreFileGone
from tests.helpers.apps import make_app
from tests.helpers.live_app import ADMIN_HEADERS, INGEST, INGEST_HEADERS, PREFIX
from worker.queue import JobQueue

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: index_dir (a small built index)

EVENT = {"user_id": "u1", "item_id": "a", "type": "like"}


def delete_store_files(directory) -> list[str]:
    """What `rm likewise.db*` does; returns the names removed."""
    removed = sorted(path.name for path in directory.glob("likewise.db*"))
    for name in removed:
        os.unlink(directory / name)
    return removed


@pytest.fixture
def store(tmp_path):
    opened = Store.open(None, tmp_path)
    opened.put_item("a", {"title": "Arrival"})
    yield opened
    opened.engine.dispose()


def test_writes_and_reads_of_a_deleted_store_file_are_refused(store, tmp_path):
    assert "likewise.db" in delete_store_files(tmp_path)
    with pytest.raises(StoreFileGone, match="was deleted while this process had it open"):
        store.put_item("b", {"title": "Contact"})
    with pytest.raises(StoreFileGone):
        store.add_events([EVENT])
    with pytest.raises(StoreFileGone):
        store.get_item("a")
    assert not (tmp_path / "likewise.db").exists(), "a new, empty store was created in its place"


def test_a_replaced_store_file_is_refused(store, tmp_path):
    sqlite3.connect(tmp_path / "other.db").close()
    os.replace(tmp_path / "other.db", tmp_path / "likewise.db")
    with pytest.raises(StoreFileGone, match="replaced by another file"):
        store.put_item("b", {"title": "Contact"})


def test_a_store_missing_beside_its_marker_is_not_created_again(store, tmp_path):
    store.engine.dispose()
    delete_store_files(tmp_path)
    with pytest.raises(StoreFileGone, match="likewise.store.json"):
        Store.open(None, tmp_path)
    assert not (tmp_path / "likewise.db").exists()
    (tmp_path / "likewise.store.json").unlink()  # the operator's deliberate fresh start
    assert Store.open(None, tmp_path).get_item("a") is None


def test_a_build_refuses_to_read_a_vanished_store(store, tmp_path):
    source = DatabaseCatalogSource(store)
    assert len(source.load().items) == 1
    delete_store_files(tmp_path)
    with pytest.raises(StoreFileGone):
        source.load()


def store_app(index_dir, data_dir, celery_app):
    """A web app whose store of record is the default SQLite file of `data_dir`."""
    app = make_app(index_dir, DATABASE_URL=f"sqlite:///{data_dir / 'likewise.db'}", INGEST_TOKEN=INGEST,
                   REDIS_URL="redis://fake", REDIS_PREFIX=PREFIX)
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(decode_responses=True), celery_app, PREFIX)
    return app


def test_deleting_the_store_under_a_running_app_refuses_writes_and_fails_readiness(index_dir, tmp_path,
                                                                                    celery_app, sent):
    app = store_app(index_dir, tmp_path, celery_app)
    api = app.test_client()
    assert api.put("/api/admin/items/a", json={"title": "Arrival"}, headers=ADMIN_HEADERS).status_code == 201
    assert api.get("/readyz").status_code == 200
    delete_store_files(tmp_path)
    put = api.put("/api/admin/items/b", json={"title": "Contact"}, headers=ADMIN_HEADERS)
    events = api.post("/api/events", json={"events": [EVENT]}, headers=INGEST_HEADERS)
    for refused in (put, events):
        assert refused.status_code == 503
        assert "was deleted" in refused.get_json()["error"] and "Nothing was stored" in refused.get_json()["error"]
    ready = api.get("/readyz")
    assert ready.status_code == 503 and "store of record is lost" in ready.get_json()["reason"]
    app.extensions["store_of_record"].close()


def test_a_restarted_app_answers_503_instead_of_an_empty_store(index_dir, tmp_path, celery_app, sent):
    first = store_app(index_dir, tmp_path, celery_app)
    assert first.test_client().put("/api/admin/items/a", json={"title": "Arrival"},
                                   headers=ADMIN_HEADERS).status_code == 201
    first.extensions["store_of_record"].close()
    delete_store_files(tmp_path)
    api = store_app(index_dir, tmp_path, celery_app).test_client()
    read = api.get("/api/admin/items/a", headers=ADMIN_HEADERS)
    assert read.status_code == 503 and "likewise.store.json" in read.get_json()["error"]
    assert api.put("/api/admin/items/b", json={"title": "B"}, headers=ADMIN_HEADERS).status_code == 503
    assert api.get("/readyz").status_code == 503
    assert not (tmp_path / "likewise.db").exists()

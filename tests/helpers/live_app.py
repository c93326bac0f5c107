"""An app with its own store of record (SQLite file or PostgreSQL database of its own) over a small
built index, and a job queue on fakeredis that records what it sends: for the items and events APIs."""

from __future__ import annotations

import fakeredis
import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.store_databases import database_url
from worker.queue import JobQueue

TOKEN = "test-admin-token"
INGEST = "test-ingest-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
INGEST_HEADERS = {"Authorization": f"Bearer {INGEST}"}
PREFIX = "live-test:"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, small_catalog):
    data_dir = tmp_path_factory.mktemp("live-index")
    build_and_publish(IndexStore(data_dir / "indexes"), small_catalog)
    return data_dir


@pytest.fixture(params=("sqlite", "postgresql"))
def live_app(request, index_dir, tmp_path, celery_app, sent):
    with database_url(request.param, tmp_path) as (url, _):
        app = make_app(index_dir, DATABASE_URL=url or f"sqlite:///{tmp_path / 'store.db'}", INGEST_TOKEN=INGEST,
                       REDIS_URL="redis://fake", REDIS_PREFIX=PREFIX, rebuild_after_seconds=5.0)
        app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(decode_responses=True), celery_app, PREFIX)
        yield app
        app.extensions["store_of_record"].close()


@pytest.fixture
def api(live_app):
    return live_app.test_client()


def refresh_removed(app) -> None:
    """What the model holder's watcher does every RELOAD interval."""
    app.extensions["model_holder"].removed.refresh()

"""Shared fixtures: small catalogs made here, real Annoy indexes built from them, the app and client, and
the worker's tasks run eagerly on a data dir of their own."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

# Keep every generated secret and index of the test run out of the developer's ./var.
os.environ.setdefault("LIKEWISE_DATA_DIR", tempfile.mkdtemp(prefix="likewise-test-env-"))

import fakeredis  # noqa: E402

import worker.tasks  # noqa: E402
from recommender.catalog.sources import CatalogFiles  # noqa: E402
from recommender.index_store import IndexStore  # noqa: E402
from recommender.pipeline import build_and_publish  # noqa: E402
from recommender.settings import Settings  # noqa: E402
from tests.helpers.apps import make_app  # noqa: E402
from tests.helpers.catalogs import make_catalog, small_data_dir  # noqa: E402
from worker.app import create_worker_app  # noqa: E402
from worker.queue import JobQueue  # noqa: E402


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> CatalogFiles:
    return make_catalog(tmp_path_factory.mktemp("catalog"))


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory, small_catalog) -> Path:
    """A data dir with one published index of the small catalog, shared read-only by many tests."""
    data_dir = tmp_path_factory.mktemp("data")
    build_and_publish(IndexStore(data_dir / "indexes"), small_catalog)
    return data_dir


@pytest.fixture
def app(built_data_dir):
    return make_app(built_data_dir)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def model(app):
    return app.extensions["model_holder"].model


@pytest.fixture(autouse=True)
def fresh_throttle():
    """The in-process fallback of the attempt limiter: no test may inherit another's failed attempts."""
    from web.auth import ingest_limiter, limiter

    for bucket in (limiter, ingest_limiter):
        bucket.local.clear()
    yield
    for bucket in (limiter, ingest_limiter):
        bucket.local.clear()


@pytest.fixture
def celery_app():
    """A Celery app on an in-memory broker and result store, for tests that queue without Redis."""
    import celery

    return celery.Celery("t", broker="memory://", backend="cache+memory://")


@pytest.fixture
def sent(celery_app, monkeypatch):
    """Every task sent, recorded on the way to the in-memory broker."""
    calls = []
    original = celery_app.send_task

    def record(name, *args, **kwargs):
        calls.append({"name": name, **kwargs})
        return original(name, *args, **kwargs)
    monkeypatch.setattr(celery_app, "send_task", record)
    return calls


@pytest.fixture
def run_task(tmp_path, monkeypatch):
    """Run a task eagerly in the worker app, on a data dir with one published version."""
    data_dir = small_data_dir(tmp_path, n_items=60)
    settings = Settings(data_dir=data_dir, redis_url="redis://unused", secret_key="s", admin_token="t")
    app = create_worker_app(settings, {"task_always_eager": True, "result_backend": "cache+memory://"})
    celery_app = app.extensions["celery"]
    queue = JobQueue(fakeredis.FakeRedis(decode_responses=True), celery_app, "t:")
    monkeypatch.setattr(worker.tasks, "job_queue", lambda: queue)

    def run(name: str, **kwargs):
        with app.app_context():
            return celery_app.tasks[name].apply(kwargs=kwargs, task_id=str(uuid.uuid4()))
    run.data_dir, run.queue, run.app = data_dir, queue, app
    return run

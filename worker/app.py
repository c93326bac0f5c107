"""The worker's own slim Flask app: settings, the index store and the catalog sources, nothing else.

No blueprints, no CSRF, no model holder: it exists so tasks run inside an app context, as in the
Flask documentation's Celery pattern, and it never imports the web tier.
"""

from __future__ import annotations

from flask import Flask

from recommender.catalog_source import ActiveCatalog, UploadStore
from recommender.index_store import IndexStore
from recommender.settings import Settings, settings_from_env
from recommender.store import StoreUnavailable
from recommender.store.handle import StoreHandle
from worker.queue import celery_init_app

# A task in progress rides out a restart of Redis (the embedded one under `make run` is back within
# seconds): its progress reports and its result are retried for about a minute instead of failing the
# build. Only in the worker: the web tier's reads of job state must answer "unavailable" quickly.
RESULT_RETRIES = {"result_backend_always_retry": True, "result_backend_max_retries": 60,
                  "result_backend_max_sleep_between_retries_ms": 1000}


def _store_of_record(app: Flask, settings: Settings) -> StoreHandle:
    """Upgrade the schema and import the data dir's catalog files once; a database down at start
    only fails the builds that need it (each says so), not the worker."""
    handle = StoreHandle(settings.database_url, settings.data_dir)
    try:
        handle.prepare(settings.catalog_dir)
    except StoreUnavailable as exc:
        app.logger.warning("the store of record is unavailable at start: %s", exc)
    return handle


def create_worker_app(settings: Settings | None = None, celery_overrides: dict | None = None) -> Flask:
    settings = settings or settings_from_env()
    app = Flask("likewise-worker")
    app.config["CELERY"] = {**RESULT_RETRIES, **(celery_overrides or {})}
    app.extensions["settings"] = settings
    app.extensions["index_store"] = IndexStore(settings.index_dir)
    app.extensions["active_catalog"] = ActiveCatalog(settings.catalog_dir)
    app.extensions["uploads"] = UploadStore(settings.uploads_dir)
    app.extensions["store_of_record"] = _store_of_record(app, settings)
    celery_init_app(app, settings)
    return app

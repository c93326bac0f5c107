"""The worker's own slim Flask app: settings, the index store and the catalog sources, nothing else.

No blueprints, no CSRF, no model holder: it exists so tasks run inside an app context, as in the
Flask documentation's Celery pattern, and it never imports the web tier.
"""

from __future__ import annotations

from flask import Flask

from recommender.catalog.sources import ActiveCatalog, UploadStore
from recommender.index_store import IndexStore
from recommender.settings import Settings, settings_from_env
from recommender.store.handle import open_store_of_record
from worker.queue import celery_init_app

# A task in progress rides out a restart of Redis (the embedded one under `make run` is back within
# seconds): its progress reports and its result are retried for about a minute instead of failing the
# build. Only in the worker: the web tier's reads of job state must answer "unavailable" quickly.
RESULT_RETRIES = {"result_backend_always_retry": True, "result_backend_max_retries": 60,
                  "result_backend_max_sleep_between_retries_ms": 1000}


def create_worker_app(settings: Settings | None = None, celery_overrides: dict | None = None) -> Flask:
    settings = settings or settings_from_env()
    app = Flask("likewise-worker")
    app.config["CELERY"] = {**RESULT_RETRIES, **(celery_overrides or {})}
    app.extensions["settings"] = settings
    app.extensions["index_store"] = IndexStore(settings.index_dir)
    app.extensions["active_catalog"] = ActiveCatalog(settings.catalog_dir)
    app.extensions["uploads"] = UploadStore(settings.uploads_dir)
    app.extensions["store_of_record"] = open_store_of_record(settings.database_url, settings.data_dir,
                                                             settings.catalog_dir, app.logger)
    celery_init_app(app, settings)
    return app

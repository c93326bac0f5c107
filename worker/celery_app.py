"""Entry point for `celery --app worker.celery_app ...`: the Celery app of the worker's slim app."""

from worker.app import create_worker_app

flask_app = create_worker_app()
celery_app = flask_app.extensions["celery"]

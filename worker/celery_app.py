"""Entry point for `celery --app worker.celery_app ...`: the Celery app of a Flask app."""

from web import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

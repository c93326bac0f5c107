"""The Celery side of Likewise: the app wired to Flask's factory, and the rebuild task.

Follows the Flask documentation's "Background Tasks with Celery" pattern: every task runs
inside the Flask app context, so it reads the same configuration as the web tier.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

REBUILD_TASK = "likewise.rebuild_index"
ROLLBACK_TASK = "likewise.rollback_index"


def celery_config(app: Flask) -> dict:
    url = app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = app.config.get("REDIS_PREFIX", "likewise:")
    config = {
        "broker_url": url,
        "result_backend": url,
        "task_default_queue": "likewise",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_track_started": True,
        "worker_prefetch_multiplier": 1,
        "result_extended": True,
        "result_expires": 7 * 24 * 3600,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": app.config.get("REDELIVER_SECONDS", 900),
                                     "global_keyprefix": prefix},
        "result_backend_transport_options": {"global_keyprefix": prefix},
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "imports": ("worker.tasks",),
    }
    every = app.config.get("REBUILD_EVERY_SECONDS")
    if every:
        config["beat_schedule"] = {"periodic-rebuild": {"task": REBUILD_TASK, "schedule": float(every),
                                                        "kwargs": {"reason": "periodic"}}}
    return config


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(app))
    celery_app.conf.update(app.config.get("CELERY", {}))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app

"""Background threads hold their owners weakly: a discarded app takes its polling threads with it,
so a process that makes many apps (the test suite, a CLI) does not accumulate pollers."""

from __future__ import annotations

import gc
import threading

from tests.helpers.apps import make_app
from tests.helpers.processes import wait_for


def watcher_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in ("index-watcher", "tracking-flusher")}


def test_a_discarded_app_stops_its_watchers(built_data_dir):
    before = watcher_threads()
    app = make_app(built_data_dir)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/search?q=river").status_code == 200
    started = watcher_threads() - before
    assert any(t.name == "index-watcher" for t in started), "serving a page starts the index watcher"
    del app, client
    make_app(built_data_dir)  # the newest app is Celery's default app, which keeps it alive: not the old one
    gc.collect()
    wait_for(lambda: not (watcher_threads() & started), 10, "the discarded app's threads to end")

"""Issue 22's "must show" for pinning, with real processes (Redis, a `celery worker`, gunicorn with 2
workers, SQLite): while pinned, a PUT item and 50 events cause automatic builds, but every web process
serves the pinned version for 60 s; after unpinning, the next automatic build publishes."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import http_call, live_stack, wait_for

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer integration-admin-token", "Content-Type": "application/json"}
INGEST = {"Authorization": "Bearer integration-ingest-token", "Content-Type": "application/json"}
PINNED_SECONDS = 60


def answer(base: str, path: str, method: str = "GET", body=None, headers=None) -> tuple[int, dict | None]:
    raw = json.dumps(body).encode() if body is not None else None
    status, _, data = http_call(base, path, method, raw, headers)
    return status, (json.loads(data) if data else None)


def served_versions(base: str) -> set[str]:
    """The versions answering, asked often enough to reach both web processes."""
    return {answer(base, "/api/items/1001/similar?k=5")[1]["index_version"] for _ in range(6)}


def test_while_pinned_changes_build_but_do_not_publish_for_60_seconds(tmp_path):
    data_dir, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    build_and_publish(IndexStore(data_dir / "indexes"), make_catalog(data_dir / "catalog", n_items=120, n_users=50))
    store = IndexStore(data_dir / "indexes")
    prefix = f"likewise-test-{uuid.uuid4().hex[:8]}:"
    with live_stack(data_dir, logs, prefix, INGEST_TOKEN="integration-ingest-token",
                    LIKEWISE_REBUILD_AFTER_SECONDS="1") as stack:
        base = stack.base
        status, pinned = answer(base, "/api/admin/index/pin", "POST", {"why": "checking"}, ADMIN)
        assert status == 200
        served = pinned["pinned"]["version"]
        assert answer(base, "/api/admin/items/pin-1", "PUT", {"title": "Pinned Garden"}, ADMIN)[0] == 201
        events = [{"user_id": f"u{i}", "item_id": "1001", "type": "like"} for i in range(50)]
        assert answer(base, "/api/events", "POST", {"events": events}, INGEST)[0] == 202
        started = time.monotonic()
        wait_for(lambda: answer(base, "/api/admin/index", headers=ADMIN)[1]["waiting"] >= 1, 50,
                 "an automatic build to be kept while pinned")
        while time.monotonic() - started < PINNED_SECONDS:
            assert served_versions(base) == {served}, "a version was published over the pin"
            time.sleep(1)
        kept = len(store.versions())
        print(f"\nwhile pinned: {answer(base, '/api/admin/index', headers=ADMIN)[1]['waiting']} build(s) "
              f"waiting after {PINNED_SECONDS} s; served stayed {served}")
        assert answer(base, "/api/admin/index/pin", "DELETE", headers=ADMIN)[1] == {"pinned": None}
        assert answer(base, "/api/admin/items/pin-2", "PUT", {"title": "Unpinned Garden"}, ADMIN)[0] == 201
        unpinned = time.monotonic()
        wait_for(lambda: served not in served_versions(base) and len(served_versions(base)) == 1, 60,
                 "the next automatic build to publish after unpinning")
        print(f"after unpinning: published and served by both processes in {time.monotonic() - unpinned:.1f} s")
        assert len(store.versions()) == kept + 1

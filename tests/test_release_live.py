"""Issue 22's "must show" for releases, with real processes: upload a replacement catalog (mode
replace), roll back to the previous version through the admin API, and within 5 s every gunicorn
worker serves its items again (item page, similar panel, search). Both web processes learn of it
from their watcher (the `current` pointer and the store's removed-items counter), polled every
LIKEWISE_RELOAD_SECONDS (the default 0.5 s here)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from recommender.catalog.sources import ActiveCatalog
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import live_stack, wait_for
from tests.test_integration_rebuild import admin, call, follow, multipart
from tests.test_release import other_catalog

pytestmark = pytest.mark.integration
SERVED_WITHIN_S = 5.0
ASKS_PER_CHECK = 8  # enough requests that both gunicorn workers answer some


def serves_catalog_a(base: str, version: str) -> bool:
    """Every answer, from whichever process, shows catalog A's item 1000 and its neighbours."""
    for _ in range(ASKS_PER_CHECK):
        status, headers, body = call(base, "/api/items/1000/similar?k=5")
        if status != 200 or headers.get("X-Index-Version") != version or len(json.loads(body)["results"]) != 5:
            return False
        if call(base, "/items/1000")[0] != 200:
            return False
        status, _, body = call(base, "/api/search?q=river")
        found = [r["item_id"] for r in json.loads(body)["results"]] if status == 200 else []
        if not found or any(item_id.startswith("b") for item_id in found):
            return False
    return True


def test_a_rollback_after_a_replace_upload_is_served_by_every_process_within_5_s(tmp_path):
    data_dir, files = tmp_path / "data", make_catalog(tmp_path / "a", n_items=80)
    ActiveCatalog(data_dir / "catalog").replace_with(files)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    (logs := tmp_path / "logs").mkdir()
    with live_stack(data_dir, logs, f"likewise-test-{uuid.uuid4().hex[:8]}:",
                    LIKEWISE_RELOAD_SECONDS="0.5") as stack:
        base = stack.base
        first = follow(base, admin(base, "/api/admin/rebuild", "POST")[1]["job_id"])["index_version"]
        body, content_type = multipart({"items": (b := other_catalog(tmp_path / "b", files)).items,
                                        "interactions": b.interactions})
        status, answer = admin(base, "/api/admin/catalog", "POST", body, {"Content-Type": content_type})
        assert status == 202, answer
        replaced = follow(base, answer["job_id"])
        assert replaced["state"] == "SUCCESS", replaced
        wait_for(lambda: call(base, "/api/items/1000")[0] == 404, 5, "catalog A to be gone")

        started = time.monotonic()
        status, answer = admin(base, "/api/admin/index/rollback", "POST", json.dumps({"version": first}).encode(),
                               {"Content-Type": "application/json"})
        assert status == 200 and answer["state"] == "SUCCESS", answer
        wait_for(lambda: serves_catalog_a(base, first), SERVED_WITHIN_S, "every process to serve catalog A",
                 interval=0.05)
        elapsed = time.monotonic() - started
        summary = admin(base, "/api/admin/index")[1]
    print(f"rollback call to catalog A served by every process: {elapsed:.2f} s")
    assert elapsed < SERVED_WITHIN_S
    assert summary["catalog"]["version"] == first and summary["catalog"]["store_matches"] is True, summary

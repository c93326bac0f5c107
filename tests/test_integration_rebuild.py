"""Background rebuilds end to end: real Redis, a real `celery worker`, gunicorn with 2 workers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from recommender.catalog.demo import prepare_demo_catalog
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import follow_job, live_stack, multipart, wait_for

pytestmark = pytest.mark.integration
TOKEN = "integration-admin-token"
JOB_SECONDS = 90


def call(base: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def admin(base: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    status, _, raw = call(base, path, method, body, {"Authorization": f"Bearer {TOKEN}", **(headers or {})})
    return status, json.loads(raw)


def follow(base: str, job_id: str) -> dict:
    return follow_job(base, job_id, {"Authorization": f"Bearer {TOKEN}"}, JOB_SECONDS)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Demo-catalog data dir with a first index, a worker and gunicorn, on a private key prefix."""
    data_dir = tmp_path_factory.mktemp("stack-data")
    logs = tmp_path_factory.mktemp("stack-logs")
    demo = prepare_demo_catalog(data_dir / "catalog")
    build_and_publish(IndexStore(data_dir / "indexes"), demo_files(demo))
    prefix = f"likewise-test-{uuid.uuid4().hex[:8]}:"
    with live_stack(data_dir, logs, prefix) as stack:
        yield {"base": stack.base, "data_dir": data_dir, "store": IndexStore(data_dir / "indexes"),
               "worker": stack.worker, "tmp": tmp_path_factory.mktemp("stack-files")}


def demo_files(demo):
    from recommender.catalog.sources import CatalogFiles
    return CatalogFiles(demo.items_path, demo.interactions_path)


class Hammer:
    """A client that keeps asking for a similar panel and records every answer's status and version."""

    def __init__(self, base: str, item_id: str):
        self.url = f"/items/{item_id}/similar?k=10"
        self.base = base
        self.answers: list[tuple[float, int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                status, headers, _ = call(self.base, self.url, headers={"HX-Request": "true"})
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                status, headers = 0, {"error": str(exc)}
            self.answers.append((time.monotonic(), status, headers.get("X-Index-Version")))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=15)


def test_upload_through_admin_api_is_served_by_every_web_process_without_failures(stack):
    """The whole promise of issue 3: upload, follow the job, and gunicorn swaps with no failed request."""
    base, store = stack["base"], stack["store"]
    before = store.current_version()
    files = make_catalog(stack["tmp"] / "upload", n_items=120)
    body, content_type = multipart({"items": files.items, "interactions": files.interactions})
    with Hammer(base, "1") as hammer:
        time.sleep(0.5)
        status, answer = admin(base, "/api/admin/catalog", "POST", body, {"Content-Type": content_type})
        assert status == 202, answer
        job = follow(base, answer["job_id"])
        assert job["state"] == "SUCCESS", job
        published = time.monotonic()
        new_version = job["index_version"]
        assert new_version != before and store.current_version() == new_version

        def all_processes_switched():
            versions = {call(base, "/api/items/1000/similar?k=3")[1].get("X-Index-Version") for _ in range(12)}
            return versions == {new_version}
        wait_for(all_processes_switched, 10, "every web process to serve the new version", interval=0.05)
        switched = time.monotonic() - published
        time.sleep(0.3)
    failures = [a for a in hammer.answers if a[1] not in (200, 404)]
    assert not failures, f"failed requests during the swap: {failures[:5]}"
    assert any(v == before for _, s, v in hammer.answers if s == 200), "the hammer never saw the old version"
    assert switched <= 2.0, f"web processes took {switched:.2f} s to serve the new version"
    status, headers, _ = call(base, "/items/1000/similar?k=5", headers={"HX-Request": "true"})
    assert status == 200 and headers["X-Index-Version"] == new_version
    status, headers, _ = call(base, "/items/1/similar")
    assert status == 404, "an item of the old catalog should be gone from the new one"


def test_failing_build_leaves_the_served_index_untouched(stack, tmp_path):
    """A catalog that passes validation but cannot be built: the job fails with a reason, nothing changes."""
    base, store = stack["base"], stack["store"]
    before = store.current_version()
    versions_before = sorted(p.name for p in (stack["data_dir"] / "indexes" / "versions").iterdir())
    lonely = tmp_path / "items.csv"
    lonely.write_text("item_id,title\n1,The only item\n", encoding="utf-8")
    body, content_type = multipart({"items": lonely})
    status, answer = admin(base, "/api/admin/catalog", "POST", body, {"Content-Type": content_type})
    assert status == 202, answer
    job = follow(base, answer["job_id"])
    assert job["state"] == "FAILURE" and "at least 2" in job["error"], job
    assert store.current_version() == before
    assert sorted(p.name for p in (stack["data_dir"] / "indexes" / "versions").iterdir()) == versions_before
    assert not any((stack["data_dir"] / "indexes" / "staging").iterdir()), "staging files were left behind"
    assert call(base, "/readyz")[0] == 200


def test_invalid_upload_is_refused_before_anything_is_queued(stack, tmp_path):
    base, store = stack["base"], stack["store"]
    before = store.current_version()
    bad = tmp_path / "items.csv"
    bad.write_text("item_id,title\n1,One\n1,Duplicate\n2,\n", encoding="utf-8")
    body, content_type = multipart({"items": bad})
    status, answer = admin(base, "/api/admin/catalog", "POST", body, {"Content-Type": content_type})
    assert status == 422
    texts = " | ".join(e["text"] for e in answer["errors"])
    assert "items.csv" in texts and "item_id" in texts and "duplicate" in texts and "title" in texts
    assert store.current_version() == before


def test_two_requests_during_a_running_build_give_one_extra_build(stack):
    """Coalescing: clicks while a build runs join the one waiting job, so one extra version appears."""
    base, store = stack["base"], stack["store"]
    stack["data_dir"].joinpath("catalog").mkdir(exist_ok=True)
    prepare_demo_catalog(stack["data_dir"] / "catalog")
    status, first = admin(base, "/api/admin/rebuild", "POST")
    assert status == 202

    def running():
        job = admin(base, f"/api/admin/jobs/{first['job_id']}")[1]
        return job["state"] == "PROGRESS" and job["progress"] >= 10
    wait_for(running, 60, "the first build to start", interval=0.05)
    status, second = admin(base, "/api/admin/rebuild", "POST")
    status_third, third = admin(base, "/api/admin/rebuild", "POST")
    assert status == status_third == 202
    assert not second["coalesced"] and third["coalesced"] and third["job_id"] == second["job_id"]
    results = [follow(base, job_id) for job_id in (first["job_id"], second["job_id"])]
    assert [r["state"] for r in results] == ["SUCCESS", "SUCCESS"]
    assert results[0]["index_version"] != results[1]["index_version"]
    assert store.current_version() == results[1]["index_version"]
    manifests = {m["version"]: m for m in store.versions()}
    assert manifests[results[0]["index_version"]]["source_hash"] == manifests[results[1]["index_version"]][
        "source_hash"], "the same data should show the same data hash"
    assert len(store.versions()) <= 6, "only the served version and the last 5 others are kept"


def test_rollback_through_the_api_switches_every_process(stack):
    base, store = stack["base"], stack["store"]
    current = store.current_version()
    older = next(m["version"] for m in store.versions() if m["version"] != current and "error" not in m)
    status, answer = admin(base, "/api/admin/index/rollback", "POST", json.dumps({"version": older}).encode(),
                           {"Content-Type": "application/json"})
    assert status == 200 and answer["state"] == "SUCCESS", answer
    assert store.current_version() == older
    wait_for(lambda: all(admin(base, "/api/admin/index")[1]["serving"] == older for _ in range(6)), 5,
             "web processes to serve the rolled-back version")
    status, answer = admin(base, "/api/admin/index/rollback", "POST", json.dumps({"version": "nope"}).encode(),
                           {"Content-Type": "application/json"})
    assert status == 404

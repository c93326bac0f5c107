"""What is served is one decision (issue 22), end to end on real processes: Redis, a Celery worker and
gunicorn with 2 workers over one SQLite store, shared by the module. A rollback after a replace upload
serves the old catalog again and pins it; while pinned, a PUT and 50 events build but every process serves
the pinned version for 60 s, and after unpinning the next automatic build publishes; an experiment is exact in every
process from the moment its start call returns until its stop call returns, removal included.

Every answer is asked several times on fresh connections, so both gunicorn workers answer."""

from __future__ import annotations

import json
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from recommender.index_store import IndexStore
from recommender.metrics.arms import CHALLENGER, assign_arm
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import follow_job, http_call, live_stack, multipart, wait_for

pytestmark = pytest.mark.integration
TOKEN = "integration-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**ADMIN, "Content-Type": "application/json"}
INGEST = {"Authorization": "Bearer integration-ingest-token", "Content-Type": "application/json"}
JOB_SECONDS = 180
PINNED_SECONDS = 60
HIDDEN_GONE_SECONDS = 2
ASKS = 6  # requests per check, so both gunicorn workers answer


def call(base: str, path: str, method: str = "GET", body=None, headers=None) -> tuple[int, dict, dict | None]:
    raw = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    status, answer_headers, data = http_call(base, path, method, raw, headers or {})
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return status, answer_headers, parsed


def admin(base: str, path: str, method: str = "GET", body=None) -> tuple[int, dict | None]:
    status, _, parsed = call(base, path, method, body, JSON if body is not None else ADMIN)
    return status, parsed


def follow(base: str, job_id: str) -> dict:
    return follow_job(base, job_id, ADMIN, JOB_SECONDS)


def served_versions(base: str, path: str, asks: int = ASKS) -> set[str | None]:
    """The index versions that answered `path` over `asks` fresh connections (None: not a 200)."""
    found = set()
    for _ in range(asks):
        status, headers, _ = call(base, path)
        found.add(headers.get("X-Index-Version") if status == 200 else None)
    return found


def index(base: str) -> dict:
    status, body = admin(base, "/api/admin/index")
    assert status == 200, body
    return body


def replacement_catalog(directory: Path) -> dict[str, Path]:
    """Another shop's catalog: the same structure under other ids and titles, so none of the first survives."""
    files = make_catalog(directory / "made", n_items=90, n_users=40, seed=11)
    items = pd.read_csv(files.items, dtype=str)
    interactions = pd.read_csv(files.interactions, dtype={"item_id": str})
    items["item_id"] = "r" + items["item_id"]
    items["title"] = "Replacement " + items["title"]
    interactions["item_id"] = "r" + interactions["item_id"]
    paths = {"items": directory / "items.csv", "interactions": directory / "interactions.csv"}
    items.to_csv(paths["items"], index=False)
    interactions.to_csv(paths["interactions"], index=False)
    return paths


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A first index of a small catalog (imported into the store on start); automatic rebuilds 1 s after a
    change, with no minimum gap between them, so the pinning and experiment checks see real rebuilds."""
    data_dir = tmp_path_factory.mktemp("served-data")
    logs = tmp_path_factory.mktemp("served-logs")
    files = make_catalog(data_dir / "catalog", n_items=120, n_users=50)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    prefix = f"likewise-test-{uuid.uuid4().hex[:8]}:"
    with live_stack(data_dir, logs, prefix, INGEST_TOKEN="integration-ingest-token",
                    LIKEWISE_REBUILD_AFTER_SECONDS="1", LIKEWISE_REBUILD_AT_MOST_EVERY="1") as live:
        yield {"base": live.base, "store": IndexStore(data_dir / "indexes"), "tmp": tmp_path_factory.mktemp("t"),
               "logs": logs}


def test_a_rollback_after_a_replace_upload_serves_that_catalog_again_and_pins_it(stack):
    base, store = stack["base"], stack["store"]
    first = stack["first"] = store.current_version()
    body, content_type = multipart(replacement_catalog(stack["tmp"] / "replacement"), {"mode": "replace"})
    status, _, answer = call(base, "/api/admin/catalog", "POST", body, {**ADMIN, "Content-Type": content_type})
    assert status == 202, answer
    assert follow(base, answer["job_id"])["state"] == "SUCCESS"
    wait_for(lambda: served_versions(base, "/api/items/r1000/similar?k=3") == {store.current_version()}, 10,
             "every web process to serve the replacement")

    status, answer = admin(base, "/api/admin/index/rollback", "POST", {"version": first})
    assert status == 200 and answer["served"]["agreed"] is True, answer
    assert answer["served"]["processes"] >= 1, f"the answering process reported what it serves: {answer}"
    returned = time.monotonic()

    def old_catalog_served():
        return (served_versions(base, "/api/items/1000/similar?k=3") == {first}
                and served_versions(base, "/items/1000", 2) == {first}
                and all(call(base, "/api/search?q=river")[2]["results"] for _ in range(2)))
    assert old_catalog_served(), "every process serves the rolled-back catalog when the call returns"
    print(f"rollback after a replace upload: old catalog served {time.monotonic() - returned:.2f} s after the call")
    assert served_versions(base, "/api/items/r1000/similar?k=3", 2) == {None}, "the replacement's items are gone"
    summary = index(base)
    assert summary["pinned"] and summary["pinned"]["version"] == first and summary["pinned"]["why"] == "rollback"
    assert summary["catalog"]["version"] == first and summary["catalog"]["store_matches"] is True, summary["catalog"]


def test_while_pinned_changes_build_but_nothing_publishes_for_60_seconds_until_unpinned(stack):
    base, store = stack["base"], stack["store"]
    status, pinned = admin(base, "/api/admin/index/pin", "POST", {"why": "checking"})
    assert status == 200, pinned
    served = pinned["pinned"]["version"]
    assert admin(base, "/api/admin/items/pin-1", "PUT", {"title": "Pinned Garden"})[0] == 201
    events = [{"user_id": f"u{i}", "item_id": "1001", "type": "like"} for i in range(50)]
    assert call(base, "/api/events", "POST", {"events": events}, INGEST)[0] == 202
    started = time.monotonic()
    wait_for(lambda: index(base)["waiting"] >= 1, 50, "an automatic build to be kept while pinned")
    while time.monotonic() - started < PINNED_SECONDS:
        assert served_versions(base, "/api/items/1001/similar?k=5") == {served}, "a version was published over the pin"
        time.sleep(1)
    print(f"\nwhile pinned: {index(base)['waiting']} build(s) waiting after {PINNED_SECONDS} s; served stayed {served}")
    assert admin(base, "/api/admin/index/pin", "DELETE")[1] == {"pinned": None}
    assert admin(base, "/api/admin/items/pin-2", "PUT", {"title": "Unpinned Garden"})[0] == 201
    unpinned = time.monotonic()
    wait_for(lambda: served not in (seen := served_versions(base, "/api/items/1001/similar?k=5")) and len(seen) == 1,
             60, "the next automatic build to publish after unpinning")
    print(f"after unpinning: published and served by both processes in {time.monotonic() - unpinned:.1f} s")
    assert store.current_version() not in (served, None)


def binomial_bounds(n: int, share: float, z: float = 3.29) -> tuple[float, float]:
    """The 99.9% two-sided normal-approximation interval of a binomial count."""
    spread = z * math.sqrt(n * share * (1 - share))
    return n * share - spread, n * share + spread


def expected_arm(experiment: dict, visitor: str) -> str:
    """The version a visitor's arm serves: a stable hash of the visitor and the experiment."""
    arm = assign_arm(visitor, experiment["experiment_id"], experiment["share"])
    return experiment["challenger"] if arm == CHALLENGER else experiment["control"]


def arm_of(base: str, visitor: str, item: str = "1000") -> set[str | None]:
    return served_versions(base, f"/api/items/{item}/similar?k=10&visitor={visitor}", 3)


def test_an_experiment_is_exact_in_every_process_from_start_to_stop(stack):
    base, store = stack["base"], stack["store"]
    control = store.current_version()
    challenger = stack["first"]  # the first catalog's version: item 1000 is in both arms
    assert challenger != control
    status, started = admin(base, "/api/admin/experiments", "POST", {"challenger": challenger, "share": 0.5})
    assert status == 201, started
    visitors = [f"ab-{uuid.uuid4().hex[:8]}" for _ in range(40)]
    with ThreadPoolExecutor(4) as pool:  # four at a time keep both gunicorn workers answering
        arms = dict(zip(visitors, pool.map(lambda visitor: arm_of(base, visitor), visitors)))
    assert all(len(seen) == 1 for seen in arms.values()), f"visitors switched arms: {arms}"
    wrong = [v for v in visitors if arms[v] != {expected_arm(started, v)}]
    assert not wrong, f"{len(wrong)} of 40 visitors right after the start were not answered from their arm"
    challenged = sum(seen == {challenger} for seen in arms.values())
    low, high = binomial_bounds(40, 0.5)
    assert low <= challenged <= high and challenged + sum(s == {control} for s in arms.values()) == 40, arms

    shown = {item for visitor in list(arms)[:10]
             for item in (r["item_id"] for r in call(base, f"/api/items/1000/similar?k=10&visitor={visitor}")[2]
                          ["results"])}
    hidden = sorted(shown)[0]
    status, body = admin(base, f"/api/admin/items/{hidden}", "PUT", {"title": "Hidden for the test", "hidden": True})
    assert status in (200, 201), body

    def gone_from_both_arms():
        return all(hidden not in [r["item_id"] for r in call(base, f"/api/items/1000/similar?k=10&visitor={v}")[2]
                                  ["results"]] for v in list(arms)[:10] for _ in range(2))
    wait_for(gone_from_both_arms, HIDDEN_GONE_SECONDS, "the hidden item to leave both arms", interval=0.1)

    for _rebuild in range(2):
        status, body = admin(base, "/api/admin/rebuild", "POST", {})
        assert status == 202, body
        assert follow(base, body["job_id"])["state"] == "SUCCESS"
    assert all(arm_of(base, visitor) == seen for visitor, seen in list(arms.items())[:10]), "a rebuild moved an arm"
    kept = {v["version"] for v in store.versions()}
    assert {control, challenger} <= kept

    status, body = admin(base, f"/api/admin/experiments/{started['experiment_id']}/stop", "POST", {"promote": None})
    assert status == 200, body
    after = {version for visitor in arms for version in arm_of(base, visitor)}
    assert challenger not in after, "a visitor got the challenger after the stop call returned"


def test_stopping_an_experiment_with_a_promotion_serves_the_promoted_version_when_the_call_returns(stack):
    base, store = stack["base"], stack["store"]
    control = store.current_version()
    challenger = next(v["version"] for v in store.versions() if v["version"] != control)
    status, started = admin(base, "/api/admin/experiments", "POST", {"challenger": challenger, "share": 0.5})
    assert status == 201, started
    stop = f"/api/admin/experiments/{started['experiment_id']}/stop"
    status, stopped = admin(base, stop, "POST", {"promote": challenger})
    assert status == 200 and stopped["promote_state"] == "SUCCESS" and stopped["served"]["agreed"], stopped
    visitors = [f"after-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    with ThreadPoolExecutor(4) as pool:
        seen = set().union(*pool.map(lambda visitor: arm_of(base, visitor), visitors))
    assert seen == {challenger}, f"right after the promotion returned, answers came from {seen}"
    assert served_versions(base, "/items/1000", ASKS) == {challenger}
    assert index(base)["pinned"]["why"] == "promotion"

"""Frequently bought together (issue 24) end to end: real Redis, a real `celery worker`, gunicorn, the SQLite
store. Orders sent through the events API with a session_id; after the automatic build, the item bought
with A in 30 orders is first in A's list with the count in its why, a best-seller in every order is not
(its lift stays at 1), and an item below the support threshold answers empty with the reason, never padded."""

from __future__ import annotations

import json
import uuid

import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import http_call, live_stack, wait_for

pytestmark = pytest.mark.integration
INGEST = {"Authorization": "Bearer together-ingest-token", "Content-Type": "application/json"}
SHARED_ORDERS = 30
OTHER_ORDERS = 60
A, B, BEST_SELLER, LONE, NEVER_ORDERED = "1003", "1012", "1001", "1020", "1030"


def answer(base: str, path: str, method: str = "GET", body=None, headers=None) -> tuple[int, dict | None]:
    raw = json.dumps(body).encode() if body is not None else None
    status, _, data = http_call(base, path, method, raw, headers)
    return status, (json.loads(data) if data else None)


def orders() -> list[dict]:
    """30 orders of A, B and the best-seller; 60 of the best-seller with one other item; one of LONE with A."""
    events = []
    for n in range(SHARED_ORDERS):
        for item, kind in ((A, "purchase"), (B, "add_to_cart"), (BEST_SELLER, "purchase")):
            events.append({"user_id": f"buyer{n}", "item_id": item, "type": kind, "session_id": f"order-{n}"})
    others = [str(1040 + n) for n in range(OTHER_ORDERS // 3)]
    for n in range(OTHER_ORDERS):
        for item in (BEST_SELLER, others[n % len(others)]):
            events.append({"user_id": f"other{n}", "item_id": item, "type": "purchase", "session_id": f"o2-{n}"})
    events += [{"user_id": "lone", "item_id": item, "type": "purchase", "session_id": "lone-order"}
               for item in (LONE, B)]
    return events


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("together-data")
    logs = tmp_path_factory.mktemp("together-logs")
    files = make_catalog(data_dir / "catalog", n_items=80, n_users=40)
    build_and_publish(IndexStore(data_dir / "indexes"), files)
    prefix = f"likewise-test-{uuid.uuid4().hex[:8]}:"
    with live_stack(data_dir, logs, prefix, INGEST_TOKEN="together-ingest-token",
                    LIKEWISE_REBUILD_AFTER_SECONDS="1") as stack:
        yield stack.base


def test_thirty_orders_of_a_and_b_put_b_first_after_the_automatic_build(live):
    base = live
    status, body = answer(base, f"/api/items/{A}/bought-together")
    assert status == 200 and body["results"] == [] and "no orders with this item yet" in body["reason"]
    status, accepted = answer(base, "/api/events", "POST", {"events": orders()}, INGEST)
    assert status == 202 and accepted["accepted"] == len(orders())

    def built():
        found = answer(base, f"/api/items/{A}/bought-together")[1]
        return found if found["results"] else None
    body = wait_for(built, 90, "the automatic build with the orders", interval=0.5)
    first = body["results"][0]
    assert first["item_id"] == B and first["why"]["summary"] == f"bought together in {SHARED_ORDERS} orders"
    assert BEST_SELLER not in [r["item_id"] for r in body["results"]], "a best-seller paired with everything"
    assert "reason" not in body


def test_below_the_thresholds_the_answer_is_empty_with_the_reason(live):
    base = live
    wait_for(lambda: answer(base, f"/api/items/{A}/bought-together")[1]["results"], 90, "the automatic build",
             interval=0.5)
    status, lone = answer(base, f"/api/items/{LONE}/bought-together")
    assert status == 200 and lone["results"] == []
    assert "at least 3" in lone["reason"] and "1 order" in lone["reason"]
    status, best = answer(base, f"/api/items/{BEST_SELLER}/bought-together")
    assert status == 200 and best["results"] == [] and "lift" in best["reason"]
    assert answer(base, f"/api/items/{NEVER_ORDERED}/bought-together")[1]["reason"] == "no orders with this item yet"
    status, _, page = http_call(base, f"/items/{A}/bought-together", headers={"HX-Request": "true"})
    assert status == 200 and b"bought together in 30 orders" in page and b"<html" not in page
    status, _, embedded = http_call(base, f"/embed/items/{A}/bought-together?frame=1")
    assert status == 200 and b"likewise-bought-together" in embedded and b"bought together in 30 orders" in embedded
    assert answer(base, "/api/items/no-such-item/bought-together")[0] == 404

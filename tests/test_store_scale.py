"""A build reads a million stored events through the SQL aggregate within the time the issue allows."""

from __future__ import annotations

import time

from sqlalchemy import text

from recommender.store import DatabaseCatalogSource, Store

EVENTS = 1_000_000
ITEMS = 5_000
USERS = 20_000
MAX_AGGREGATE_S = 30.0
GENERATE_EVENTS = text("""
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < :count)
INSERT INTO events (event_id, user_id, item_id, type, value, ts, received_at)
SELECT NULL, 'u' || ((k * 7919) % :users), 'i' || ((k * 104729) % :items),
       CASE k % 5 WHEN 0 THEN 'view' WHEN 1 THEN 'click' WHEN 2 THEN 'like' WHEN 3 THEN 'add_to_cart'
                  ELSE 'purchase' END,
       NULL, :now - (k % 400) * 86400.0 / 2, :now FROM n
""")


def test_a_million_events_aggregate_within_thirty_seconds_on_sqlite(tmp_path):
    store = Store.open(None, tmp_path)
    store.put_items([{"item_id": f"i{n}", "title": f"Item {n}"} for n in range(1000)])
    now = time.time()
    with store.writer.begin() as connection:
        connection.execute(text("INSERT INTO items (item_id, title, description, categories, image_url, url, "
                                "hidden, attributes, created_at, updated_at) "
                                "WITH RECURSIVE n(k) AS (SELECT 1000 UNION ALL "
                                "SELECT k + 1 FROM n WHERE k + 1 < :items) "
                                "SELECT 'i' || k, 'Item ' || k, '', '', '', '', 0, '{}', :now, :now FROM n"),
                           {"items": ITEMS, "now": now})
        connection.execute(GENERATE_EVENTS, {"count": EVENTS, "users": USERS, "items": ITEMS, "now": now})
    started = time.perf_counter()
    catalog = DatabaseCatalogSource(store, horizon_days=180.0, now=now).load()
    seconds = time.perf_counter() - started
    print(f"\n{EVENTS:,} events -> {len(catalog.interactions):,} pairs in {seconds:.1f} s")
    assert len(catalog.items) == ITEMS
    assert 0 < len(catalog.interactions) < EVENTS
    assert seconds <= MAX_AGGREGATE_S
    store.engine.dispose()

"""A build reads many stored events through the SQL aggregate, never one by one.

Functional only: the timed read of a million events is a row of `make bench` (benchmarks/store.py)."""

from __future__ import annotations

import time

from benchmarks.store import AGGREGATE_ITEMS, aggregate_seconds
from recommender.store import DatabaseCatalogSource, Store

EVENTS = 40_000


def test_generated_events_aggregate_into_fewer_pairs_for_every_item(tmp_path):
    _seconds, pairs = aggregate_seconds(tmp_path, EVENTS)
    assert 0 < pairs < EVENTS
    store = Store.open(None, tmp_path)
    catalog = DatabaseCatalogSource(store, horizon_days=180.0, now=time.time()).load()
    assert len(catalog.items) == AGGREGATE_ITEMS
    assert set(catalog.interactions["item_id"]) <= set(catalog.items["item_id"])
    store.engine.dispose()

"""Events in the store and the catalog a build reads from it, on SQLite and PostgreSQL."""
# ruff: noqa: F811 - the store fixtures are imported from tests.helpers.store_databases

from __future__ import annotations

import random
import time

import numpy as np
import pandas as pd
import pytest

from recommender.catalog.load import CatalogError
from recommender.catalog.sources import CatalogSource
from recommender.store import DEFAULT_EVENT_WEIGHTS, DatabaseCatalogSource, InvalidInput
from tests.helpers.store_databases import backend, db_url, store  # noqa: F401 - fixtures

DAY = 86_400.0
HORIZON_DAYS = 40.0
TYPES = ("view", "click", "like", "add_to_cart", "purchase", "rating")


def generated_events(now: float, seed: int = 11, count: int = 1500) -> list[dict]:
    """Events over twice the horizon, for visible, hidden and unknown items (ratings never decay)."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        kind = rng.choice(TYPES)
        event = {"user_id": f"u{rng.randrange(25)}", "item_id": f"i{rng.randrange(36)}", "type": kind,
                 "timestamp": now - rng.uniform(0, 2 * HORIZON_DAYS * DAY), "event_id": f"g{n}"}
        if kind == "rating":
            event["value"] = rng.choice([0.5, 1.0, 2.5, 3.0, 4.0, 4.5, 5.0])
        events.append(event)
    return events


def expected_interactions(events: list[dict], visible: set[str], now: float) -> pd.DataFrame:
    """The aggregate computed the slow, obvious way in pandas."""
    frame = pd.DataFrame(events)
    explicit = frame["type"] == "rating"
    frame = frame[(explicit | (frame["timestamp"] >= now - HORIZON_DAYS * DAY)) & frame["item_id"].isin(visible)].copy()
    explicit = frame["type"] == "rating"
    type_weight = frame["type"].map(DEFAULT_EVENT_WEIGHTS).fillna(frame["value"])
    decay = 0.5 ** (((now - frame["timestamp"]) / DAY) / (HORIZON_DAYS / 4))
    frame["contribution"] = type_weight.where(explicit, type_weight * decay)
    frame["strength"] = type_weight
    pairs = frame.groupby(["user_id", "item_id"]).agg(weight=("contribution", "sum"), strength=("strength", "sum"),
                                                      timestamp=("timestamp", "max"))
    ratings = frame[frame["type"] == "rating"].sort_values("timestamp").groupby(["user_id", "item_id"])["value"].last()
    pairs["rating"] = ratings.reindex(pairs.index).fillna(pairs["strength"].clip(upper=5.0))
    return pairs.reset_index()[["user_id", "item_id", "rating", "timestamp", "weight"]]


def add_in_batches(store, events, size=1000):
    return [store.add_events(events[start:start + size]) for start in range(0, len(events), size)]


def test_an_event_id_counts_once_within_and_across_requests(store):
    store.put_item("i1", {"title": "One"})
    first = store.add_events([{"user_id": "u", "item_id": "i1", "type": "like", "event_id": "e1"},
                              {"user_id": "u", "item_id": "i1", "type": "like", "event_id": "e1"},
                              {"user_id": "u", "item_id": "i1", "type": "view"},
                              {"user_id": "u", "item_id": "i1", "type": "view"}])
    assert (first["accepted"], first["duplicates"]) == (3, 1)
    again = store.add_events([{"user_id": "u", "item_id": "i1", "type": "like", "event_id": "e1"},
                              {"user_id": "u", "item_id": "i1", "type": "click", "event_id": "e2"}])
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    assert sum(store.summary()["events"]["last_24h"].values()) == 4


def test_events_for_unknown_items_are_kept_and_reported(store):
    store.put_item("known", {"title": "Known"})
    result = store.add_events([{"user_id": "u", "item_id": "later", "type": "view"},
                               {"user_id": "u", "item_id": "later", "type": "click"},
                               {"user_id": "u", "item_id": "known", "type": "like"}])
    assert (result["accepted"], result["unknown_items"], result["unknown_item_ids"]) == (3, 2, ["later"])
    store.put_item("later", {"title": "Arrived"})
    pairs = DatabaseCatalogSource(store).load().interactions
    assert set(pairs["item_id"]) == {"known", "later"}
    assert pairs.set_index("item_id").loc["later", "weight"] == pytest.approx(3.0, rel=1e-3)


def test_a_bad_event_refuses_the_whole_batch(store):
    batch = [{"user_id": "u", "item_id": "i", "type": "view", "event_id": f"b{n}"} for n in range(5)]
    batch[3]["type"] = "rating"
    with pytest.raises(InvalidInput) as refused:
        store.add_events(batch)
    assert [(e["index"], e["field"]) for e in refused.value.errors] == [(3, "value")]
    assert sum(store.summary()["events"]["last_24h"].values()) == 0


def test_the_aggregate_matches_a_pandas_computation(store):
    now = time.time()
    visible = {f"i{n}" for n in range(30) if n % 7}
    store.put_items([{"item_id": f"i{n}", "title": f"Item {n}", "hidden": f"i{n}" not in visible} for n in range(30)])
    events = generated_events(now)
    add_in_batches(store, events)
    source = DatabaseCatalogSource(store, horizon_days=HORIZON_DAYS, now=now)
    assert isinstance(source, CatalogSource)
    catalog = source.load()
    expected = expected_interactions(events, visible, now).sort_values(["user_id", "item_id"], ignore_index=True)
    got = catalog.interactions.sort_values(["user_id", "item_id"], ignore_index=True)
    assert list(got.columns) == ["user_id", "item_id", "rating", "timestamp", "weight"]
    assert len(got) == len(expected) > 100
    assert (got[["user_id", "item_id"]].to_numpy() == expected[["user_id", "item_id"]].to_numpy()).all()
    for column in ("rating", "timestamp", "weight"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-9, err_msg=column)
    assert set(catalog.items["item_id"]) == visible


def test_ratings_follow_the_like_rule(store):
    store.put_items([{"item_id": i, "title": i} for i in ("liked", "bought", "viewed", "rated")])
    store.add_events([{"user_id": "u", "item_id": "liked", "type": "like"},
                      {"user_id": "u", "item_id": "bought", "type": "purchase"},
                      {"user_id": "u", "item_id": "viewed", "type": "view"},
                      {"user_id": "u", "item_id": "rated", "type": "rating", "value": 4.5,
                       "timestamp": time.time() - 60},
                      {"user_id": "u", "item_id": "rated", "type": "purchase"},
                      {"user_id": "u", "item_id": "rated", "type": "rating", "value": 2.0}])
    ratings = DatabaseCatalogSource(store).load().interactions.set_index("item_id")["rating"]
    assert ratings.round(3).to_dict() == {"bought": 5.0, "liked": 4.0, "rated": 2.0, "viewed": 1.0}


def test_items_frame_has_the_load_items_layout_without_hidden_items(store):
    store.put_items([{"item_id": "a", "title": "A", "categories": ["X", "Y"], "year": 2001, "studio": "S",
                      "runtime": 90, "restored": True, "url": "https://e.org/a"},
                     {"item_id": "b", "title": "B"}, {"item_id": "c", "title": "C", "hidden": True}])
    catalog = DatabaseCatalogSource(store).load()
    items = catalog.items
    assert list(items.columns) == ["item_id", "title", "description", "categories", "year", "image_url", "url",
                                   "studio", "runtime", "restored"], "attributes in the order they were sent"
    assert str(items["year"].dtype) == "Int64" and list(items["item_id"]) == ["a", "b"]
    assert items.iloc[0][["categories", "runtime", "restored", "url"]].tolist() == ["X|Y", 90, True,
                                                                                   "https://e.org/a"]
    assert items.iloc[1][["studio", "url"]].tolist() == ["", ""] and pd.isna(items.iloc[1]["year"])
    assert catalog.interactions is None
    assert catalog.attribute_columns == ["image_url", "url", "studio", "runtime", "restored"]


def test_source_hash_changes_with_the_catalog_and_new_events_only(store):
    store.put_item("a", {"title": "A"})
    source = DatabaseCatalogSource(store)
    first = source.load().source_hash
    assert source.load().source_hash == first
    store.add_events([{"user_id": "u", "item_id": "a", "type": "view"}])
    second = source.load().source_hash
    store.put_item("a", {"title": "A again"})
    assert len({first, second, source.load().source_hash}) == 3


def test_an_empty_catalog_is_a_catalog_error(store):
    store.put_item("a", {"title": "A", "hidden": True})
    with pytest.raises(CatalogError, match="no visible items"):
        DatabaseCatalogSource(store).load()




def test_a_like_stays_liked_as_it_ages_within_the_horizon(store):
    store.put_item("i1", {"title": "One"})
    now = time.time()
    store.add_events([{"user_id": "u", "item_id": "i1", "type": "like", "timestamp": now - 30 * DAY}])
    pair = DatabaseCatalogSource(store, horizon_days=HORIZON_DAYS, now=now).load().interactions.iloc[0]
    assert pair["rating"] == 4.0 and pair["weight"] < 4.0

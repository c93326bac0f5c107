"""Ids have one spelling (NFC) and no invisible characters, in the JSON APIs and in catalog files; a
`value` is only for ratings; timestamps before 1990 are refused. Real SQLite store, no server."""

from __future__ import annotations

import time
import unicodedata

import pandas as pd
import pytest

from recommender.catalog.load import CatalogError, load_catalog
from recommender.store import InvalidInput, Store, validate_events, validate_item

NFC_CAFE = unicodedata.normalize("NFC", "café")
NFD_CAFE = unicodedata.normalize("NFD", "café")
INVISIBLE = {"zero-width joiner": "a\u200db", "no-break space": "a\u00a0b", "byte-order mark": "\ufeffab",
             "right-to-left override": "ab\u202e", "C1 control": "a\u0085b"}
GOOD_EVENT = {"user_id": "u1", "item_id": "i1", "type": "view"}


@pytest.mark.parametrize("item_id", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_ids_with_invisible_characters_are_refused_naming_the_field(item_id):
    errors = validate_item(0, item_id, {"title": "T"})
    assert [e["field"] for e in errors] == ["item_id"] and "U+" in errors[0]["message"]
    assert [e["field"] for e in validate_events([{**GOOD_EVENT, "user_id": item_id}])] == ["user_id"]


def test_nfc_and_nfd_spellings_are_one_item(tmp_path):
    store = Store.open(None, tmp_path)
    assert store.put_item(NFC_CAFE, {"title": "Café"}) == "created"
    assert store.put_item(NFD_CAFE, {"title": "Café again"}) == "updated"
    assert store.get_item(NFD_CAFE)["title"] == "Café again"
    with pytest.raises(InvalidInput, match="repeats an earlier item"):
        store.put_items([{"item_id": NFC_CAFE, "title": "A"}, {"item_id": NFD_CAFE, "title": "B"}])
    assert store.add_events([{**GOOD_EVENT, "item_id": NFD_CAFE}])["unknown_items"] == 0
    store.engine.dispose()


def test_a_value_on_a_non_rating_event_is_refused():
    errors = validate_events([{**GOOD_EVENT, "type": "purchase", "value": 19.9}])
    assert [(e["index"], e["field"]) for e in errors] == [(0, "value")] and "rating" in errors[0]["message"]


@pytest.mark.parametrize("timestamp", [0, 1, 631_151_999, "1989-12-31T23:59:59Z"])
def test_timestamps_before_1990_are_refused_and_movielens_ones_kept(timestamp):
    errors = validate_events([{**GOOD_EVENT, "timestamp": timestamp}], time.time())
    assert [e["field"] for e in errors] == ["timestamp"] and "1990-01-01" in errors[0]["message"]
    first_movielens = {**GOOD_EVENT, "timestamp": "1995-01-09T11:46:44Z"}
    assert validate_events([first_movielens, {**GOOD_EVENT, "timestamp": 631_152_000}]) == []


def write_catalog(tmp_path, item_ids, titles=None, interaction_ids=()):
    items = tmp_path / "items.csv"
    pd.DataFrame({"item_id": item_ids, "title": titles or [f"T{i}" for i in range(len(item_ids))]}).to_csv(
        items, index=False)
    if not interaction_ids:
        return items, None
    interactions = tmp_path / "interactions.csv"
    pd.DataFrame({"user_id": ["u"] * len(interaction_ids), "item_id": list(interaction_ids),
                  "rating": [5.0] * len(interaction_ids)}).to_csv(interactions, index=False)
    return items, interactions


def test_a_catalog_file_refuses_invisible_ids_and_reads_nfc(tmp_path):
    with pytest.raises(CatalogError, match="invisible characters"):
        load_catalog(*write_catalog(tmp_path, ["a\u200db", "c"]))
    with pytest.raises(CatalogError, match="duplicate item id"):
        load_catalog(*write_catalog(tmp_path, [NFC_CAFE, NFD_CAFE]))
    titles = ["東京物語", "Москва слезам не верит", "-Minus", "+Plus", "@Home", "עיר"]  # still load as they are
    catalog = load_catalog(*write_catalog(tmp_path, [NFD_CAFE, "x", "1", "2", "3", "4"], titles,
                                          interaction_ids=[NFC_CAFE, "x"]))
    assert list(catalog.items["item_id"][:2]) == [NFC_CAFE, "x"] and list(catalog.items["title"]) == titles

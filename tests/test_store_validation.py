"""Validation of items and events sent as JSON, and of LIKEWISE_EVENT_WEIGHTS (no database needed)."""

from __future__ import annotations

import time

import pytest

from recommender.store import parse_event_weights, validate_events, validate_item, validate_items

GOOD_ITEM = {"title": "Alien", "description": "In space.", "categories": ["Horror", "Sci-Fi"], "year": 1979,
             "image_url": "https://img.example/alien.jpg", "url": "http://example.org/alien", "hidden": False,
             "studio": "Fox", "runtime": 117, "score": 8.5, "restored": True, "note": None}


def fields_of(errors):
    return [e["field"] for e in errors]


def test_a_good_item_has_no_errors():
    assert validate_item(0, "alien", GOOD_ITEM) == []
    assert validate_item(0, "alien", {"title": "Alien", "categories": "Horror|Sci-Fi", "year": 1979.0}) == []


@pytest.mark.parametrize("field, value", [
    ("title", ""), ("title", "   "), ("title", 12), ("title", "x" * 501),
    ("description", "x" * 20_001), ("description", ["a"]),
    ("categories", 5), ("categories", ["ok", 3]), ("categories", {"a": 1}),
    ("year", "1999"), ("year", 1999.5), ("year", -1), ("year", 3001), ("year", True),
    ("image_url", "ftp://example.org/a.jpg"), ("image_url", "javascript:alert(1)"),
    ("url", "example.org/page"), ("url", "https://example.org/" + "x" * 2000), ("url", 7),
    ("hidden", "yes"), ("hidden", 1),
    ("studio", ["a", "b"]), ("studio", {"a": 1}), ("studio", "x" * 2001), ("created_at", 5),
])
def test_each_bad_field_is_named(field, value):
    errors = validate_item(2, "alien", {**GOOD_ITEM, field: value})
    assert fields_of(errors) == [field]
    assert errors[0]["index"] == 2 and errors[0]["message"]


def test_a_missing_title_is_reported():
    assert fields_of(validate_item(0, "a", {"year": 2000})) == ["title"]


@pytest.mark.parametrize("item_id", ["", "..", ".", "a/b", "x" * 201, "tab\there", 42, None])
def test_bad_item_ids_are_refused(item_id):
    assert "item_id" in fields_of(validate_item(0, item_id, {"title": "T"}))


def test_too_many_attributes_are_refused():
    body = {"title": "T", **{f"a{i}": i for i in range(51)}}
    assert any("at most 50" in e["message"] for e in validate_item(0, "a", body))


def test_a_batch_names_the_index_of_each_bad_item():
    bodies = [{"item_id": str(i), "title": "T"} for i in range(5)]
    bodies[3]["url"] = "nope"
    bodies[4] = "not an object"
    assert [(e["index"], e["field"]) for e in validate_items(bodies)] == [(3, "url"), (4, "")]


GOOD_EVENT = {"user_id": "u1", "item_id": "i1", "type": "view"}


def test_good_events_have_no_errors():
    now = time.time()
    events = [GOOD_EVENT, {**GOOD_EVENT, "type": "rating", "value": 4.5, "event_id": "e1"},
              {**GOOD_EVENT, "timestamp": "2024-05-01T10:00:00Z"}, {**GOOD_EVENT, "timestamp": now - 10},
              {**GOOD_EVENT, "timestamp": "2024-05-01T10:00:00"}]
    assert validate_events(events, now) == []


@pytest.mark.parametrize("change, field", [
    ({"type": "share"}, "type"), ({"type": "rating"}, "value"), ({"type": "rating", "value": 0.2}, "value"),
    ({"type": "rating", "value": 5.5}, "value"), ({"type": "rating", "value": "4"}, "value"),
    ({"user_id": ""}, "user_id"), ({"user_id": 7}, "user_id"), ({"item_id": "x" * 201}, "item_id"),
    ({"event_id": "x" * 201}, "event_id"), ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": -5}, "timestamp"), ({"timestamp": "1969-12-31T00:00:00Z"}, "timestamp"),
    ({"timestamp": 4e9}, "timestamp"), ({"colour": "red"}, "colour"),
])
def test_each_bad_event_field_is_named(change, field):
    errors = validate_events([GOOD_EVENT, {**GOOD_EVENT, **change}])
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)]


def test_a_missing_item_id_and_a_non_list_are_refused():
    assert fields_of(validate_events([{"user_id": "u", "type": "view"}])) == ["item_id"]
    assert validate_events({"user_id": "u"})[0]["message"] == "events must be a JSON list"


def test_event_weights_parse_and_refuse_clearly():
    weights = parse_event_weights("view=0.5, purchase=8")
    assert weights == {"view": 0.5, "click": 2.0, "like": 4.0, "add_to_cart": 4.0, "purchase": 8.0}
    assert parse_event_weights("") == parse_event_weights(None) == parse_event_weights("view=1")
    with pytest.raises(ValueError, match="unknown event type 'share'"):
        parse_event_weights("share=3")
    with pytest.raises(ValueError, match="'click' is not a number"):
        parse_event_weights("click=lots")
    with pytest.raises(ValueError, match="not type=number"):
        parse_event_weights("view")
    with pytest.raises(ValueError, match="from 0 to"):
        parse_event_weights("like=-1")

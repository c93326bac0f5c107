"""POST /api/events on SQLite and PostgreSQL: tokens, all-or-nothing batches, limits, durability, 503."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from recommender.store import Store
from recommender.store.tables import events
from tests.helpers.apps import make_app
from tests.helpers.live_app import ADMIN_HEADERS, INGEST, INGEST_HEADERS
from tests.helpers.processes import free_port

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api

EVENTS = [{"user_id": "u1", "item_id": "1000", "type": "like", "event_id": "e1"},
          {"user_id": "u1", "item_id": "1001", "type": "view"},
          {"user_id": "u2", "item_id": "1000", "type": "rating", "value": 4.5, "timestamp": "2024-05-01T10:00:00"},
          {"user_id": "u2", "item_id": "not-in-catalog", "type": "purchase", "timestamp": 1_700_000_000}]


def count_events(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(events)).scalar()


def stored_events(app) -> int:
    return count_events(app.extensions["store_of_record"].get())


def test_events_are_accepted_with_the_ingest_or_the_admin_token(api):
    api.post("/api/admin/items", json={"items": [{"item_id": i, "title": i} for i in ("1000", "1001")]},
             headers=ADMIN_HEADERS)
    first = api.post("/api/events", json={"events": EVENTS}, headers=INGEST_HEADERS)
    assert first.status_code == 202
    assert first.get_json() | {"unknown_item_ids": None} == {"accepted": 4, "duplicates": 0, "unknown_items": 1,
                                                             "unknown_item_ids": None}
    again = api.post("/api/events", json={"events": EVENTS[:1]}, headers=ADMIN_HEADERS)
    assert again.status_code == 202 and again.get_json()["duplicates"] == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": INGEST}])
def test_events_need_a_token(api, headers):
    response = api.post("/api/events", json={"events": EVENTS}, headers=headers)
    assert response.status_code == 401 and "likewise-ingest" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("field, value", [("user_id", ""), ("item_id", 5.5), ("type", "stare"), ("value", "high"),
                                          ("timestamp", "yesterday"), ("event_id", ""), ("colour", "red")])
def test_each_bad_field_refuses_the_batch_naming_index_and_field(api, live_app, field, value):
    batch = [dict(EVENTS[0], event_id="ok"), {**EVENTS[1], field: value}]
    response = api.post("/api/events", json={"events": batch}, headers=INGEST_HEADERS)
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.get_json()["errors"]] == [(1, field)]
    assert stored_events(live_app) == 0
    assert api.post("/api/events", json={"events": batch[:1]}, headers=INGEST_HEADERS).status_code == 202
    assert stored_events(live_app) == 1


@pytest.mark.parametrize("field, raw", [("value", "1" + "0" * 400), ("value", "NaN"), ("value", "-Infinity"),
                                        ("timestamp", "1" + "0" * 400), ("user_id", '"u\\ud800"'),
                                        ("event_id", '"e\\udfff"')])
def test_numbers_no_float_holds_and_lone_surrogates_are_422_not_500(api, live_app, field, raw):
    """JSON allows them, Python parses them, no database column can take them: refused by field."""
    event = {key: json.dumps(value) for key, value in {**EVENTS[1], "event_id": "e"}.items()} | {field: raw}
    body = '{"events": [{' + ", ".join(f'"{key}": {value}' for key, value in event.items()) + "}]}"
    response = api.post("/api/events", data=body, content_type="application/json", headers=INGEST_HEADERS)
    assert response.status_code == 422 and [e["field"] for e in response.get_json()["errors"]] == [field]
    assert stored_events(live_app) == 0


def test_a_rating_needs_its_value(api):
    response = api.post("/api/events", json={"events": [{**EVENTS[2], "value": None}]}, headers=INGEST_HEADERS)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "value"


def test_bodies_that_are_not_a_batch_are_400(api):
    assert api.post("/api/events", data=b"nope", content_type="application/json",
                    headers=INGEST_HEADERS).status_code == 400
    assert api.post("/api/events", json={"evts": []}, headers=INGEST_HEADERS).status_code == 400
    assert api.post("/api/events", json={"events": {}}, headers=INGEST_HEADERS).status_code == 422


def test_over_the_count_or_the_byte_limit_is_413(api, live_app):
    many = [{"user_id": "u", "item_id": "1000", "type": "view"}] * 1001
    assert api.post("/api/events", json={"events": many}, headers=INGEST_HEADERS).status_code == 413
    huge = json.dumps({"events": [{"user_id": "u" * 150, "item_id": "1000", "type": "view"}] * 20000})
    assert api.post("/api/events", data=huge, content_type="application/json",
                    headers=INGEST_HEADERS).status_code == 413
    assert stored_events(live_app) == 0


def test_accepted_events_survive_reopening_the_database(api, live_app):
    assert api.post("/api/events", json={"events": EVENTS}, headers=INGEST_HEADERS).status_code == 202
    handle = live_app.extensions["store_of_record"]
    handle.close()  # every pooled connection gone, as after a database or worker restart
    reopened = Store.open(handle.url, handle.data_dir)
    assert count_events(reopened) == 4
    reopened.engine.dispose()


def test_a_database_that_is_down_is_a_503_that_says_so(index_dir):
    app = make_app(index_dir, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/none",
                   INGEST_TOKEN=INGEST)
    client = app.test_client()
    response = client.post("/api/events", json={"events": EVENTS}, headers=INGEST_HEADERS)
    assert response.status_code == 503 and "database is unavailable" in response.get_json()["error"]
    put = client.put("/api/admin/items/x", json={"title": "X"}, headers=ADMIN_HEADERS)
    assert put.status_code == 503 and "nothing was stored" in put.get_json()["error"]
    assert client.get("/api/items/1000").status_code == 200  # pages still answer

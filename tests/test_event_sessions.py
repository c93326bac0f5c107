"""Events carry an optional session_id (an order, basket or session; issue 24) through the events API
and uploaded interactions files, stored on SQLite and PostgreSQL; over 128 characters is a 422 naming
the field, and nothing of that batch is stored."""

from __future__ import annotations

from collections import Counter

import pandas as pd
from sqlalchemy import select

from recommender.catalog.load import CatalogError, load_interactions
from recommender.limits import SESSION_ID_MAX_CHARS
from recommender.store.tables import events
from tests.helpers.live_app import ADMIN_HEADERS, INGEST_HEADERS

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api


def stored_sessions(app) -> dict[str, str | None]:
    with app.extensions["store_of_record"].get().engine.connect() as connection:
        return dict(connection.execute(select(events.c.event_id, events.c.session_id)).all())


def add_items(api) -> None:
    api.post("/api/admin/items", json={"items": [{"item_id": i, "title": i} for i in ("1000", "1001")]},
             headers=ADMIN_HEADERS)


def test_session_ids_are_stored_with_the_events(api, live_app):
    add_items(api)
    batch = [{"event_id": "e1", "user_id": "u1", "item_id": "1000", "type": "purchase", "session_id": "order-7"},
             {"event_id": "e2", "user_id": "u1", "item_id": "1001", "type": "add_to_cart", "session_id": "order-7"},
             {"event_id": "e3", "user_id": "u1", "item_id": "1001", "type": "view"}]
    assert api.post("/api/events", json={"events": batch}, headers=INGEST_HEADERS).status_code == 202
    assert stored_sessions(live_app) == {"e1": "order-7", "e2": "order-7", "e3": None}


def test_a_session_id_over_the_limit_is_a_422_naming_the_field_and_stores_nothing(api, live_app):
    add_items(api)
    good = {"event_id": "ok", "user_id": "u1", "item_id": "1000", "type": "purchase", "session_id": "s" * 128}
    long = {**good, "event_id": "long", "session_id": "s" * (SESSION_ID_MAX_CHARS + 1)}
    response = api.post("/api/events", json={"events": [good, long]}, headers=INGEST_HEADERS)
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.get_json()["errors"]] == [(1, "session_id")]
    assert str(SESSION_ID_MAX_CHARS) in response.get_json()["errors"][0]["message"]
    for bad in ("", "tab\tinside", 5.5, ["s1"]):
        response = api.post("/api/events", json={"events": [{**good, "session_id": bad}]}, headers=INGEST_HEADERS)
        assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "session_id"
    assert stored_sessions(live_app) == {}
    assert api.post("/api/events", json={"events": [good]}, headers=INGEST_HEADERS).status_code == 202
    assert stored_sessions(live_app) == {"ok": "s" * 128}
    whole = {**good, "event_id": "whole", "session_id": 5}  # a whole number is its decimal text, as ids are
    assert api.post("/api/events", json={"events": [whole]}, headers=INGEST_HEADERS).status_code == 202
    assert stored_sessions(live_app) == {"ok": "s" * 128, "whole": "5"}


def test_an_uploaded_interactions_file_keeps_its_session_column(api, live_app, tmp_path):
    add_items(api)
    path = tmp_path / "interactions.csv"
    pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["1000", "1001", "1000"],
                  "session_id": ["basket-1", "basket-1", ""]}).to_csv(path, index=False)
    interactions = load_interactions(path, pd.Series(["1000", "1001"]))
    store = live_app.extensions["store_of_record"].get()
    store.merge_catalog(pd.DataFrame({"item_id": ["1000", "1001"], "title": ["a", "b"]}), interactions)
    assert Counter(stored_sessions(live_app).values()) == {"basket-1": 2, None: 1}
    pd.DataFrame({"user_id": ["u1"], "item_id": ["1000"], "session_id": ["x" * 129]}).to_csv(path, index=False)
    try:
        load_interactions(path, pd.Series(["1000"]))
    except CatalogError as exc:
        assert "session_id" in str(exc) and "row" in str(exc).lower()
    else:
        raise AssertionError("a session_id of 129 characters was read")

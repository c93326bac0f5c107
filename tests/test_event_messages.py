"""Events API messages a new user reads: integer ids taken as their decimal text, a missing id is
"required", and the ingest token on an admin route is told what it cannot do (issue 27 item 10)."""

from __future__ import annotations

from sqlalchemy import select

from recommender.catalog.ids import normal_id
from recommender.store.tables import events
from tests.helpers.live_app import ADMIN_HEADERS, INGEST_HEADERS

pytest_plugins = ["tests.helpers.live_app"]


def stored_pairs(app) -> list[tuple[str, str]]:
    store = app.extensions["store_of_record"].get()
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(events.c.user_id, events.c.item_id))]


def test_integer_ids_are_stored_as_their_decimal_text(api, live_app):
    api.post("/api/admin/items", json={"items": [{"item_id": 1000, "title": "Integer id"}]}, headers=ADMIN_HEADERS)
    response = api.post("/api/events", json={"events": [{"user_id": 42, "item_id": 1000, "type": "view",
                                                         "event_id": 7}]}, headers=INGEST_HEADERS)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["unknown_items"] == 0
    assert stored_pairs(live_app) == [("42", "1000")]


def test_the_normal_form_turns_whole_numbers_into_text_but_not_booleans_or_fractions():
    assert [normal_id(value) for value in (7, -3, True, 2.5, "cafe\u0301")] == ["7", "-3", True, 2.5, "caf\u00e9"]


def test_a_missing_or_null_user_id_is_required_and_a_fraction_is_not_an_id(api, live_app):
    batch = [{"item_id": "1000", "type": "view"}, {"user_id": None, "item_id": "1000", "type": "view"},
             {"user_id": "u1", "item_id": 2.5, "type": "view"}]
    response = api.post("/api/events", json={"events": batch}, headers=INGEST_HEADERS)
    assert response.status_code == 422
    messages = [(e["index"], e["field"], e["message"]) for e in response.get_json()["errors"]]
    assert messages == [(0, "user_id", "user_id is required"), (1, "user_id", "user_id is required"),
                        (2, "item_id", "item_id must be text or a whole number")]
    assert stored_pairs(live_app) == []


def test_the_ingest_token_on_an_admin_route_says_what_it_cannot_do(api):
    response = api.post("/api/admin/rebuild", headers=INGEST_HEADERS)
    assert response.status_code == 401
    message = response.get_json()["error"]
    assert message.startswith("this token cannot") and "INGEST_TOKEN" in message and "token required" not in message
    wrong = api.post("/api/admin/rebuild", headers={"Authorization": "Bearer not-a-token"}).get_json()["error"]
    assert wrong.startswith("this token cannot") and "INGEST_TOKEN" not in wrong
    assert api.post("/api/admin/rebuild").get_json()["error"].startswith("token required")

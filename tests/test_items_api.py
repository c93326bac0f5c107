"""PUT/POST/GET/DELETE /api/admin/items on SQLite and PostgreSQL: all-or-nothing writes, every bad
field named, removal from every answer without a rebuild, one coalesced automatic rebuild."""

from __future__ import annotations

import pytest

from tests.helpers.concurrency import run_together
from tests.helpers.live_app import ADMIN_HEADERS, INGEST_HEADERS, refresh_removed
from worker.queue import REBUILD_TASK

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api

ITEM = {"title": "A River Night", "description": "New.", "categories": ["Drama", "Comedy"], "year": 1999,
        "image_url": "https://example.org/a.jpg", "url": "https://example.org/a", "hidden": False, "studio": "X"}


def test_put_creates_then_updates_and_get_shows_the_record(api):
    assert api.put("/api/admin/items/new-1", json=ITEM, headers=ADMIN_HEADERS).get_json() == \
        {"item_id": "new-1", "status": "created"}
    again = api.put("/api/admin/items/new-1", json={**ITEM, "title": "Renamed"}, headers=ADMIN_HEADERS)
    assert again.status_code == 200 and again.get_json()["status"] == "updated"
    found = api.get("/api/admin/items/new-1", headers=ADMIN_HEADERS).get_json()
    assert found["item"]["title"] == "Renamed" and found["item"]["categories"] == ["Drama", "Comedy"]
    assert found["item"]["studio"] == "X" and found["in_served_index"] is False
    api.put("/api/admin/items/1000", json={"title": "Known"}, headers=ADMIN_HEADERS)
    assert api.get("/api/admin/items/1000", headers=ADMIN_HEADERS).get_json()["in_served_index"] is True


def test_categories_may_be_pipe_separated(api):
    api.put("/api/admin/items/p", json={"title": "P", "categories": "Drama|Horror"}, headers=ADMIN_HEADERS)
    assert api.get("/api/admin/items/p", headers=ADMIN_HEADERS).get_json()["item"]["categories"] == ["Drama", "Horror"]


@pytest.mark.parametrize("field, value", [("title", ""), ("title", 5), ("description", 7), ("categories", 3),
                                          ("year", "1999x"), ("year", 99999), ("image_url", "javascript:x"),
                                          ("url", 12), ("hidden", "yes"), ("attributes", {"a": 1})])
def test_each_bad_field_is_named_and_nothing_is_stored(api, field, value):
    response = api.put("/api/admin/items/bad", json={**ITEM, field: value}, headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == {field}
    assert api.get("/api/admin/items/bad", headers=ADMIN_HEADERS).status_code == 404


def test_a_missing_title_and_a_body_that_is_not_an_object(api):
    missing = api.put("/api/admin/items/t", json={"year": 2000}, headers=ADMIN_HEADERS)
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "title"
    assert api.put("/api/admin/items/t", json=["x"], headers=ADMIN_HEADERS).status_code == 400
    assert api.put("/api/admin/items/t", data=b"{not json", content_type="application/json",
                   headers=ADMIN_HEADERS).status_code == 400
    assert api.put("/api/admin/items/" + "x" * 300, json=ITEM, headers=ADMIN_HEADERS).status_code == 400


def test_a_batch_is_stored_whole_or_not_at_all(api):
    good = [{"item_id": f"b{n}", "title": f"B {n}"} for n in range(5)]
    response = api.post("/api/admin/items", json={"items": good + [{"item_id": "b9", "year": 1}]},
                        headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert response.get_json()["errors"][0] == {"index": 5, "field": "title",
                                                "message": response.get_json()["errors"][0]["message"]}
    assert api.get("/api/admin/items/b0", headers=ADMIN_HEADERS).status_code == 404
    stored = api.post("/api/admin/items", json={"items": good}, headers=ADMIN_HEADERS)
    assert stored.status_code == 200 and stored.get_json() == {"created": 5, "updated": 0}
    assert api.post("/api/admin/items", json={"items": good}, headers=ADMIN_HEADERS).get_json() == \
        {"created": 0, "updated": 5}


@pytest.mark.parametrize("field", ["title", "description", "categories", "url", "studio"])
def test_lone_surrogates_are_422_naming_the_field_not_500(api, field):
    """\\ud800 is valid JSON but not text any database can store."""
    value = '["Drama\\ud800"]' if field == "categories" else '"https://example.org/\\ud800"' if field == "url" \
        else '"x\\ud800"'
    body = '{"title": "T", "%s": %s}' % (field, value) if field != "title" else '{"title": %s}' % value
    response = api.put("/api/admin/items/s", data=body, content_type="application/json", headers=ADMIN_HEADERS)
    assert response.status_code == 422 and [e["field"] for e in response.get_json()["errors"]] == [field]
    assert api.get("/api/admin/items/s", headers=ADMIN_HEADERS).status_code == 404


def test_a_batch_with_ids_that_are_not_text_is_422_not_500(api):
    items = [{"item_id": {"a": 1}, "title": "A"}, {"item_id": ["b"], "title": "B"}, {"item_id": ["b"], "title": "B"}]
    response = api.post("/api/admin/items", json={"items": items}, headers=ADMIN_HEADERS)
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.get_json()["errors"]] == [(0, "item_id"), (1, "item_id"),
                                                                                 (2, "item_id")]


def test_too_many_items_in_one_call_is_413(api):
    many = [{"item_id": f"m{n}", "title": "M"} for n in range(1001)]
    assert api.post("/api/admin/items", json={"items": many}, headers=ADMIN_HEADERS).status_code == 413


@pytest.mark.parametrize("method, path", [("put", "/api/admin/items/x"), ("post", "/api/admin/items"),
                                          ("get", "/api/admin/items/x"), ("delete", "/api/admin/items/x")])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, INGEST_HEADERS])
def test_the_items_api_needs_the_admin_token(api, method, path, headers):
    response = getattr(api, method)(path, json={"title": "T"}, headers=headers)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_delete_removes_an_item_from_every_answer_at_once(api, live_app):
    model = live_app.extensions["model_holder"].model
    neighbours = [r.item_id for r in model.get_similar_items("1008", 10)]
    gone = neighbours[0]
    assert api.delete(f"/api/admin/items/{gone}", headers=ADMIN_HEADERS).status_code == 404  # not stored yet
    api.put(f"/api/admin/items/{gone}", json={"title": "Soon gone"}, headers=ADMIN_HEADERS)
    assert api.delete(f"/api/admin/items/{gone}", headers=ADMIN_HEADERS).status_code == 204
    refresh_removed(live_app)
    assert api.get(f"/api/items/{gone}").status_code == 404
    assert api.get(f"/items/{gone}").status_code == 404
    similar = api.get("/api/items/1008/similar?k=10").get_json()["results"]
    assert gone not in [r["item_id"] for r in similar] and len(similar) == 10
    title = model.get_item(gone).title
    assert gone not in [r["item_id"] for r in api.get("/api/search", query_string={"q": title}).get_json()["results"]]
    assert gone not in api.get("/").get_data(as_text=True).split('href="/items/')


def test_hidden_leaves_answers_and_visible_again_comes_back(api, live_app):
    api.put("/api/admin/items/1001", json={"title": "Hidden one", "hidden": True}, headers=ADMIN_HEADERS)
    refresh_removed(live_app)
    assert api.get("/api/items/1001").status_code == 404
    api.put("/api/admin/items/1001", json={"title": "Hidden one", "hidden": False}, headers=ADMIN_HEADERS)
    refresh_removed(live_app)
    assert api.get("/api/items/1001").status_code == 200


def test_concurrent_puts_leave_one_whole_record(live_app):
    bodies = [{"title": f"Title {n}", "description": f"Description {n}", "year": 1900 + n} for n in range(8)]

    def put(body):
        assert live_app.test_client().put("/api/admin/items/race", json=body, headers=ADMIN_HEADERS).status_code < 300
    assert run_together(put, bodies, seconds=30) == []
    item = live_app.test_client().get("/api/admin/items/race", headers=ADMIN_HEADERS).get_json()["item"]
    n = item["year"] - 1900
    assert (item["title"], item["description"]) == (f"Title {n}", f"Description {n}")


def test_a_burst_of_changes_schedules_one_delayed_rebuild(api, sent):
    for n in range(5):
        api.put(f"/api/admin/items/burst{n}", json={"title": "Burst"}, headers=ADMIN_HEADERS)
    api.delete("/api/admin/items/burst0", headers=ADMIN_HEADERS)
    rebuilds = [call for call in sent if call["name"] == REBUILD_TASK]
    assert len(rebuilds) == 1
    assert rebuilds[0]["countdown"] == 5.0 and rebuilds[0]["kwargs"]["reason"] == "store changed"

"""Issue 23: JSON bodies on every JSON endpoint. Deep nesting is a 400 (not a RecursionError 500), a key
repeated in an object is a 400 naming it, a body sent as anything but application/json is a 415, and none
of them stores anything."""

from __future__ import annotations

import json

import pytest

from recommender.limits import JSON_MAX_DEPTH
from tests.helpers.live_app import ADMIN_HEADERS, INGEST_HEADERS
from tests.test_events_api import stored_events
from web.views.json_input import nesting_depth

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api

DEEP = "[" * 1000 + "]" * 1000  # 2 KB
ENDPOINTS = [("put", "/api/admin/items/new-1", ADMIN_HEADERS, '{"title": "A", "studio": %s}'),
             ("post", "/api/admin/items", ADMIN_HEADERS, '{"items": [{"item_id": "new-1", "title": "A", "s": %s}]}'),
             ("post", "/api/events", INGEST_HEADERS,
              '{"events": [{"user_id": "u", "item_id": "1000", "type": "view", "value": %s}]}'),
             ("post", "/api/admin/index/rollback", ADMIN_HEADERS, '{"version": %s}'),
             ("post", "/api/admin/index/restore-catalog", ADMIN_HEADERS, '{"version": %s}'),
             ("post", "/api/admin/experiments", ADMIN_HEADERS, '{"challenger": %s}'),
             ("post", "/api/admin/experiments/x/stop", ADMIN_HEADERS, '{"promote": %s}')]
IDS = [f"{method} {path}" for method, path, _, _ in ENDPOINTS]


def send(api, method: str, path: str, headers: dict, body: str, content_type: str = "application/json"):
    return getattr(api, method)(path, data=body.encode(), content_type=content_type, headers=headers)


def nothing_stored(api, live_app, sent) -> bool:
    missing = api.get("/api/admin/items/new-1", headers=ADMIN_HEADERS).status_code == 404
    return missing and stored_events(live_app) == 0 and sent == []


@pytest.mark.parametrize("method, path, headers, template", ENDPOINTS, ids=IDS)
def test_deeply_nested_bodies_are_a_400_naming_the_limit(api, live_app, sent, method, path, headers, template):
    response = send(api, method, path, headers, template % DEEP)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert f"at most {JSON_MAX_DEPTH}" in response.get_json()["error"]
    assert nothing_stored(api, live_app, sent)


@pytest.mark.parametrize("method, path, headers, template", ENDPOINTS, ids=IDS)
def test_a_repeated_key_is_a_400_naming_it(api, live_app, sent, method, path, headers, template):
    body = template % '"v"'
    first_key = body[body.rindex("{") + 1:].split(":")[0].strip()
    response = send(api, method, path, headers, body.replace("{" + first_key, "{" + first_key + ': "x", ' + first_key))
    assert response.status_code == 400 and f"repeats the key {json.loads(first_key)!r}" in response.get_json()["error"]
    assert nothing_stored(api, live_app, sent)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
@pytest.mark.parametrize("method, path, headers, template", ENDPOINTS, ids=IDS)
def test_a_body_that_is_not_sent_as_json_is_a_415(api, live_app, sent, method, path, headers, template, content_type):
    response = send(api, method, path, headers, template % '"v"', content_type)
    assert response.status_code == 415 and "application/json" in response.get_json()["error"]
    assert nothing_stored(api, live_app, sent)


def test_the_depth_limit_itself_is_taken_and_json_with_a_charset_is_json(api):
    at_limit = "[" * (JSON_MAX_DEPTH - 1) + "1" + "]" * (JSON_MAX_DEPTH - 1)  # inside the item object: the limit
    over = "[" + at_limit + "]"
    put = send(api, "put", "/api/admin/items/new-1", ADMIN_HEADERS, '{"title": "A", "studio": %s}' % at_limit)
    assert put.status_code == 422 and put.get_json()["errors"][0]["field"] == "studio"  # read, then refused by field
    deeper = send(api, "put", "/api/admin/items/new-1", ADMIN_HEADERS, '{"title": "A", "studio": %s}' % over)
    assert deeper.status_code == 400
    brackets_in_text = '{"title": "%s"}' % ("[{" * 100)
    stored = send(api, "put", "/api/admin/items/new-1", ADMIN_HEADERS, brackets_in_text,
                  "application/json; charset=utf-8")
    assert stored.status_code == 201


@pytest.mark.parametrize("text, depth", [('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0), ('["\\"[[", [[]]]', 3),
                                         ('{"k\\\\": [[]]}', 3), ("", 0), ("[[[", 3)])
def test_nesting_depth_counts_brackets_outside_strings_only(text, depth):
    assert nesting_depth(text.encode()) == depth

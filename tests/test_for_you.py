"""For you, because you viewed and forgetting a user, with real events sent through the events API to an app
serving the real MovieLens demo index (SQLite store of record): what a visitor sees follows what they did,
at once, without a rebuild; unknown and cold visitors get the cold answer; bad input is a 400 naming the field."""

from __future__ import annotations

import html
import re
import secrets
import time

import pytest
from sqlalchemy import func, select

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore
from recommender.limits import EVENTS_WATERMARK_RECHECK_SECONDS, FOR_YOU_EVENTS_READ
from recommender.pipeline import build_and_publish
from recommender.store.tables import events
from recommender.store.user_data import forget_user
from tests.helpers.apps import make_app

ADMIN = {"Authorization": "Bearer test-admin-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
SHOP = "https://shop.example"
ANIMATED = ("Toy Story", "Finding Nemo", "Up")
WAIT_SECONDS = 10


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("for-you-demo")
    prepared = prepare_demo_catalog(directory / "catalog")
    build_and_publish(IndexStore(directory / "indexes"), CatalogFiles(prepared.items_path, prepared.interactions_path))
    return directory


@pytest.fixture(scope="module")
def demo_app(demo_dir):
    app = make_app(demo_dir, embed_origins=(SHOP,))
    holder = app.extensions["model_holder"]
    deadline = time.monotonic() + WAIT_SECONDS
    while holder.model is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert holder.model is not None, "the demo index did not load"
    yield app
    app.extensions["store_of_record"].close()


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def ids_by_title(app, titles) -> list[str]:
    items = app.extensions["model_holder"].model.items
    return [str(items.loc[items["title"] == title, "item_id"].iloc[0]) for title in titles]


def new_visitor() -> str:
    return "v-" + secrets.token_hex(6)


def send(client, user: str, item_ids, kind: str = "view") -> None:
    now = time.time()
    batch = [{"user_id": user, "item_id": item_id, "type": kind, "timestamp": now - 60 + i}
             for i, item_id in enumerate(item_ids)]
    response = client.post("/api/events", json={"events": batch}, headers=ADMIN)
    assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
    assert response.get_json()["accepted"] == len(batch)


def categories(app, item_id: str) -> tuple[str, ...]:
    return app.extensions["model_holder"].model.get_item(item_id).categories


def test_three_animated_films_give_animated_films_none_of_the_three(demo_app, client):
    visitor, viewed = new_visitor(), ids_by_title(demo_app, ANIMATED)
    send(client, visitor, viewed)
    answer = client.get("/api/recommendations", query_string={"visitor": visitor, "k": 10}).get_json()
    assert answer["basis"] == "history" and answer["for"] == {"visitor": visitor}
    found = [r["item_id"] for r in answer["results"]]
    assert len(found) == 10 and not set(found) & set(viewed)
    animated = ["Animation" in categories(demo_app, i) for i in found]
    # About 5% of the catalog is animated: half of the list and its top three are far above that.
    assert sum(animated) >= 5 and all(animated[:3]), [(r["title"], r["categories"]) for r in answer["results"]]
    assert all(r["why"]["summary"].startswith("Because you viewed ") for r in answer["results"])
    assert all(set(r["why"]["because"]) <= set(ANIMATED) and r["why"]["because"] for r in answer["results"])


def test_a_new_event_changes_the_next_answer_without_a_rebuild(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED[:1]))
    before = client.get(f"/api/recommendations?visitor={visitor}&k=10").get_json()
    horror = ids_by_title(demo_app, ["Shining, The", "Alien", "Exorcist, The"])
    send(client, visitor, horror, "purchase")
    after = client.get(f"/api/recommendations?visitor={visitor}&k=10").get_json()
    assert set(horror) <= set(after["seeds"]) and after["results"] != before["results"]
    assert after["index_version"] == before["index_version"]


@pytest.mark.parametrize("query", ["visitor=never-seen-here", "user_id=no%20such%20user"])
def test_cold_and_unknown_visitors_get_the_cold_answer(client, query):
    answer = client.get(f"/api/recommendations?{query}&k=5")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["basis"] == "trending" and len(body["results"]) == 5 and body["seeds"] == []
    popular = [i.item_id for i in client.application.extensions["model_holder"].model.popular(5)]
    assert [r["item_id"] for r in body["results"]] == popular


@pytest.mark.parametrize("query, field", [
    ("visitor=x&k=0", "k"), ("visitor=x&k=abc", "k"), ("visitor=x&k=101", "k"), ("", "user_id"),
    ("visitor=a&user_id=b", "not both"), ("visitor=bad%20id", "visitor"), ("user_id=" + "u" * 201, "user_id"),
    ("visitor=x&include_seen=maybe", "include_seen"), ("visitor=x&year_min=abc", "year_min"),
])
def test_bad_input_is_a_400_naming_the_field(client, query, field):
    response = client.get(f"/api/recommendations?{query}")
    assert response.status_code == 400 and field in response.get_json()["error"]


def test_filters_apply_and_seen_items_come_back_only_when_asked(demo_app, client):
    visitor, viewed = new_visitor(), ids_by_title(demo_app, ANIMATED)
    send(client, visitor, viewed)
    comedy = client.get(f"/api/recommendations?visitor={visitor}&k=8&category=Comedy").get_json()
    assert comedy["results"] and all("Comedy" in r["categories"] for r in comedy["results"])
    seen = client.get(f"/api/recommendations?visitor={visitor}&k=30&include_seen=1").get_json()
    assert set(viewed) & {r["item_id"] for r in seen["results"]}


def test_a_removed_item_leaves_for_you_at_once(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED))
    first = client.get(f"/api/recommendations?visitor={visitor}&k=5").get_json()["results"][0]["item_id"]
    assert client.delete(f"/api/admin/items/{first}", headers=ADMIN).status_code in (200, 204)
    deadline = time.monotonic() + WAIT_SECONDS
    shown = [first]
    while first in shown and time.monotonic() < deadline:
        time.sleep(0.05)
        shown = [r["item_id"] for r in client.get(f"/api/recommendations?visitor={visitor}&k=20").get_json()["results"]]
    assert first not in shown


def test_forgetting_a_user_removes_their_influence(demo_app, client):
    user = "site-user-" + secrets.token_hex(4)
    send(client, user, ids_by_title(demo_app, ANIMATED))
    assert client.get(f"/api/recommendations?user_id={user}").get_json()["basis"] == "history"
    gone = client.delete(f"/api/admin/users/{user}", headers=ADMIN)
    assert gone.status_code == 200 and gone.get_json()["removed"]["events"] == len(ANIMATED)
    assert client.get(f"/api/recommendations?user_id={user}").get_json()["basis"] == "trending"
    store = demo_app.extensions["store_of_record"].get()
    with store.engine.connect() as connection:
        left = connection.execute(select(func.count()).where(events.c.user_id == user)).scalar_one()
    assert left == 0, "the next build reads the store: nothing of theirs is left to learn from"
    assert client.delete(f"/api/admin/users/{user}", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/admin/users/{user}").status_code == 401


def test_forgetting_a_visitor_wipes_their_impressions_too(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED[:2]))
    fragment = client.get(f"/for-you?visitor={visitor}", headers=BROWSER | {"HX-Request": "true"})
    beacon = html.unescape(re.search(r'<img class="likewise-beacon" src="([^"]+)"', fragment.text).group(1))
    assert client.get(beacon, headers=BROWSER).status_code == 200
    demo_app.extensions["tracking"].buffer.flush()
    gone = client.delete(f"/api/admin/visitors/{visitor}", headers=ADMIN).get_json()
    assert gone["removed"] == {"events": 2, "impressions_anonymised": 1, "clicks_anonymised": 0}
    assert client.delete("/api/admin/visitors/bad%20id", headers=ADMIN).status_code == 400


def test_history_read_is_bounded_to_the_newest_events(demo_app, client):
    visitor = new_visitor()
    items = demo_app.extensions["model_holder"].model.items["item_id"].astype(str).tolist()
    old, newest = items[:FOR_YOU_EVENTS_READ], ids_by_title(demo_app, ANIMATED)
    for start in range(0, len(old), 500):
        batch = [{"user_id": visitor, "item_id": i, "type": "view", "timestamp": time.time() - 86_400 * 30}
                 for i in old[start:start + 500]]
        assert client.post("/api/events", json={"events": batch}, headers=ADMIN).status_code in (200, 201, 202)
    send(client, visitor, newest, "purchase")
    answer = client.get(f"/api/recommendations?visitor={visitor}").get_json()
    assert set(newest) <= set(answer["seeds"]) and answer["basis"] == "history"


def test_fragments_pages_and_home_for_a_visitor_with_history(demo_app, client):
    visitor, viewed = new_visitor(), ids_by_title(demo_app, ANIMATED)
    send(client, visitor, viewed)
    client.set_cookie("lw_visitor", visitor)
    fragment = client.get("/for-you", headers=BROWSER | {"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["Cache-Control"] == "private, no-store"
    assert 'data-basis="history"' in fragment.text and "<html" not in fragment.text
    assert "Because you viewed" in fragment.text and "likewise-beacon" in fragment.text
    page = client.get("/for-you", headers=BROWSER)
    assert "<html" in page.text and 'id="for-you"' in page.text
    rows = client.get("/because-you-viewed", headers=BROWSER | {"HX-Request": "true"}).text
    assert re.findall(r'data-viewed="([^"]+)"', rows) == list(reversed(viewed))
    home = client.get("/", headers=BROWSER)
    assert home.headers["Cache-Control"] == "private, no-store"
    assert 'hx-get="/for-you' in home.text and 'hx-get="/because-you-viewed' in home.text
    assert 'class="loading fallback without-js"><a href="/for-you' in home.text
    client.delete_cookie("lw_visitor")
    public = client.get("/", headers=BROWSER)
    assert 'id="for-you"' not in public.text and "public" in public.headers["Cache-Control"]


def test_for_you_embed_on_another_origin(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED))
    embed = client.get(f"/embed/for-you?visitor={visitor}&k=4", headers=BROWSER | {"Origin": SHOP})
    assert embed.status_code == 200 and embed.headers["Access-Control-Allow-Origin"] == SHOP
    assert embed.text.count('class="likewise-card"') == 4 and 'data-basis="history"' in embed.text
    assert "http://localhost/r/" in embed.text and "hx-" not in embed.text
    framed = client.get(f"/embed/for-you?visitor={visitor}&frame=1", headers=BROWSER)
    assert "<html" in framed.text and SHOP in framed.headers["Content-Security-Policy"]
    other = client.get(f"/embed/for-you?visitor={visitor}", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert client.get("/embed/for-you?visitor=x&k=0").status_code == 400


def test_for_you_is_tracked_per_panel(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED))
    tracked = client.get(f"/api/recommendations?visitor={visitor}&k=3&track=1").get_json()
    assert tracked["impression_id"] and all(r["click_url"].startswith("http://localhost/r/")
                                            for r in tracked["results"])
    assert client.get(tracked["results"][0]["click_url"], headers=BROWSER).status_code == 302
    demo_app.extensions["tracking"].buffer.flush()
    panels = {p["panel"]: p for p in client.get("/api/admin/metrics", headers=ADMIN).get_json()["panels"]}
    assert panels["for-you"]["impressions"] >= 1 and panels["for-you"]["clicks"] >= 1


def test_a_kept_for_you_fragment_is_renewed_by_the_next_event_and_by_forgetting(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED[:1]))
    fragment = f"/for-you?visitor={visitor}&k=10"
    first = client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    assert client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text == first  # kept: the same panel
    send(client, visitor, ids_by_title(demo_app, ["Shining, The", "Alien"]), "purchase")
    renewed = client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    assert renewed != first and "Shining, The" in renewed
    assert client.delete(f"/api/admin/visitors/{visitor}", headers=ADMIN).status_code == 200
    assert 'data-basis="trending"' in client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text


def _wait_for_answer(client, url: str, check) -> dict:
    """The answer to `url` once `check` accepts it (rules reach every process within 2 s)."""
    deadline = time.monotonic() + 3
    answer = client.get(url).get_json()
    while not check(answer) and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = client.get(url).get_json()
    return answer


def test_for_you_rules_hide_and_pin_and_say_so_until_deleted(demo_app, client):
    visitor, viewed = new_visitor(), ids_by_title(demo_app, ANIMATED)
    send(client, visitor, viewed)
    url = f"/api/recommendations?visitor={visitor}&k=10"
    before = client.get(url).get_json()["results"]
    assert any("Animation" in r["categories"] for r in before)
    hide = {"surface": "for-you", "where": {"category": "Animation"}, "action": "hide"}
    assert client.put("/api/admin/rules/no-cartoons", json=hide, headers=ADMIN).status_code == 201
    hidden = _wait_for_answer(client, url, lambda a: not any("Animation" in r["categories"] for r in a["results"]))
    assert len(hidden["results"]) == 10 and not any("Animation" in r["categories"] for r in hidden["results"])
    assert client.delete("/api/admin/rules/no-cartoons", headers=ADMIN).status_code == 204
    fifth = before[4]["item_id"]
    pin = {"surface": "for-you", "action": "pin", "item_id": fifth, "position": 1}
    assert client.put("/api/admin/rules/fifth-first", json=pin, headers=ADMIN).status_code == 201
    pinned = _wait_for_answer(client, url, lambda a: a["results"][0]["item_id"] == fifth)
    assert pinned["results"][0]["item_id"] == fifth
    assert "fifth-first" in pinned["results"][0]["why"]["summary"] and pinned["results"][0]["why"]["rules"]
    assert client.delete("/api/admin/rules/fifth-first", headers=ADMIN).status_code == 204
    restored = _wait_for_answer(client, url, lambda a: a["results"] == before)
    assert restored["results"] == before, "deleting the rules gives the answer back"


def store_of(app):
    return app.extensions["store_of_record"].get()


def fragment_until(client, fragment: str, check, seconds: float = 3.0) -> str:
    """The fragment once `check` accepts it, asked every 50 ms for at most `seconds`."""
    deadline = time.monotonic() + seconds
    text = client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    while not check(text) and time.monotonic() < deadline:
        time.sleep(0.05)
        text = client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    return text


def test_events_another_process_stored_renew_a_kept_answer_within_the_recheck(demo_app, client):
    """Events written past this process (another web process, the worker's tracking flush) reach its kept
    for-you answer once its events watermark is re-read (EVENTS_WATERMARK_RECHECK_SECONDS)."""
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED[:1]))
    fragment = f"/for-you?visitor={visitor}&k=10"
    first = client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    store_of(demo_app).add_events([{"user_id": visitor, "item_id": item_id, "type": "purchase",
                                    "timestamp": time.time()} for item_id in ids_by_title(demo_app, ["Alien"])])
    started = time.monotonic()
    renewed = fragment_until(client, fragment, lambda text: "Alien" in text)
    assert "Alien" in renewed and renewed != first
    assert time.monotonic() - started < EVENTS_WATERMARK_RECHECK_SECONDS + 1.0


def test_events_another_process_deleted_renew_every_kept_answer(demo_app, client):
    visitor = new_visitor()
    send(client, visitor, ids_by_title(demo_app, ANIMATED))
    fragment = f"/for-you?visitor={visitor}&k=10"
    assert 'data-basis="history"' in client.get(fragment, headers=BROWSER | {"HX-Request": "true"}).text
    with store_of(demo_app).engine.begin() as connection:  # as another process's forget does
        assert forget_user(connection, visitor)["events"] == len(ANIMATED)
    assert 'data-basis="trending"' in fragment_until(client, fragment, lambda text: 'data-basis="trending"' in text)


def test_a_cold_answer_is_not_kept_past_trending(demo_app, client):
    """A visitor without history gets trending's list, which moves with everyone's events: never kept here."""
    before = len(demo_app.extensions["personal_cache"])
    visitor = new_visitor()
    assert 'data-basis="trending"' in client.get(f"/for-you?visitor={visitor}", headers=BROWSER).text
    assert len(demo_app.extensions["personal_cache"]) == before

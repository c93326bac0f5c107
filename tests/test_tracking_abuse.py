"""Issue 23, item 4: impressions and clicks could be inflated, and clicks fed training.

Before: one click link replayed 300× counted 300 clicks (CTR 1.023), one beacon replayed 300× counted 300
impressions, one client made 222 clicks/s, and the clicks became events for 20 made-up visitor ids. Now
each token counts once across processes (Redis SET NX), HEAD never counts, clicks on removed items are a
plain redirect, each client address counts only so many a minute, and a click becomes a training event
at most once per visitor, item and day."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from recommender.limits import BEACONS_PER_MINUTE, CLICKS_PER_MINUTE
from recommender.metrics.rows import SECONDS_PER_DAY, click_event
from recommender.metrics.tokens import Impression, TokenSigner
from recommender.store.tables import events
from tests.helpers.apps import make_app
from tests.helpers.processes import delete_prefixed, free_port, redis_server
from tests.test_metrics_tracking import ADMIN, BROWSER, flush, panel
from web.services.tracking_guard import LocalMarks, TrackingGuard, client_key

REPLAYS = 300


@pytest.fixture(scope="module")
def shared_redis_url():
    prefix = f"likewise-tracking-{uuid.uuid4().hex[:8]}:"
    with redis_server() as (url, _process):
        try:
            yield url, prefix
        finally:
            delete_prefixed(url, prefix)


@pytest.fixture
def two_processes(built_data_dir, tmp_path, shared_redis_url):
    """Two web processes on one store of record and one real Redis (a key prefix of this test's own)."""
    url, prefix = shared_redis_url
    prefix = f"{prefix}{uuid.uuid4().hex[:6]}:"
    database = f"sqlite:///{tmp_path / 'store.db'}"
    apps = [make_app(built_data_dir, DATABASE_URL=database, REDIS_URL=url, REDIS_PREFIX=prefix) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["tracking"].database.close()


def totals(app) -> tuple[int, int]:
    versions = app.test_client().get("/api/admin/metrics", headers=ADMIN).get_json()["versions"]
    return sum(v["impressions"] for v in versions), sum(v["clicks"] for v in versions)


def click_events(app) -> list:
    store, _ = app.extensions["tracking"].database.open()
    with store.engine.connect() as connection:
        return connection.execute(select(events).where(events.c.type == "click")).all()


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def shown_panel(app):
    """A visitor's client of `app` and the click links and beacons of the panel it was shown."""
    client = app.test_client()
    _, links, beacons = panel(client)
    return client, links, beacons


def view_and_click(client, beacon: str, link: str) -> None:
    """What a visitor's browser does: load the panel's beacon, then follow its first link."""
    assert client.get(beacon, headers=BROWSER).status_code == 200
    assert client.get(link, headers=BROWSER).status_code == 302


def counted(app, *others) -> tuple[int, int]:
    """The impressions and clicks `app`'s store holds once it and `others` have flushed what they counted."""
    flush_all((app, *others))
    return totals(app)


def flush_all(apps) -> None:
    for app in apps:
        flush(app)


def test_a_replayed_beacon_and_click_count_once_across_processes(two_processes):
    first, second = two_processes
    clients = [client_at(app, "198.51.100.20") for app in two_processes]
    _, links, beacons = panel(clients[0])
    for n in range(REPLAYS):
        view_and_click(clients[n % 2], beacons[0], links[0])
    assert counted(*two_processes) == (1, 1)
    assert len(click_events(first)) == 1
    elsewhere = client_at(first, "198.51.100.21")
    _, cached_links, cached_beacons = panel(elsewhere)
    assert (cached_links, cached_beacons) == (links, beacons), "the process's cached panel carries the same tokens"
    view_and_click(elsewhere, cached_beacons[0], cached_links[0])
    assert counted(*two_processes) == (2, 2), "another visitor seeing the cached panel still counts"


def test_head_requests_are_answered_but_never_counted(two_processes):
    app = two_processes[0]
    client, links, beacons = shown_panel(app)
    assert client.head(beacons[0], headers=BROWSER).status_code == 200
    assert client.head(links[0], headers=BROWSER).status_code == 302
    assert counted(app) == (0, 0)
    view_and_click(client, beacons[0], links[0])
    assert counted(app) == (1, 1), "a HEAD does not use up the token"


def test_a_click_on_a_removed_item_is_a_plain_redirect_and_no_click(two_processes):
    app = two_processes[0]
    client, links, beacons = shown_panel(app)
    clicked = client.get(links[0], headers=BROWSER).headers["Location"].rsplit("/", 1)[1]
    store, _ = app.extensions["tracking"].database.open()
    store.put_item(clicked, {"title": "Soon gone"})
    assert store.delete_item(clicked)
    app.extensions["model_holder"].removed.refresh()
    _, links, _ = panel(client)
    signer = TokenSigner("test-secret")
    token = signer.click_token(Impression.new("v", "1000", 3, [clicked], "embed"), 1, clicked)
    response = client.get(f"/r/{token}", headers=BROWSER)
    assert (response.status_code, response.headers["Location"]) == (302, f"/items/{clicked}")
    assert response.headers["Cache-Control"] == "no-store"
    flush(app)
    assert totals(app)[1] == 1 and len(click_events(app)) == 1, "only the click before the removal counted"


def test_each_client_counts_only_so_many_a_minute(two_processes):
    first, second = two_processes
    signer = TokenSigner("test-secret")
    version = first.extensions["model_holder"].model.version
    impressions = [Impression.new(version, "1000", 1, ["1001"], "embed") for _ in range(BEACONS_PER_MINUTE + 5)]
    greedy = client_at(first, "198.51.100.9")
    for impression in impressions:
        assert greedy.get(f"/i/{signer.beacon_token(impression)}.gif", headers=BROWSER).status_code == 200
    for impression in impressions[:CLICKS_PER_MINUTE + 5]:
        assert greedy.get(f"/r/{signer.click_token(impression, 1, '1001')}", headers=BROWSER).status_code == 302
    other = client_at(second, "198.51.100.10")
    extra = Impression.new(version, "1000", 1, ["1001"], "embed")
    other.get(f"/i/{signer.beacon_token(extra)}.gif", headers=BROWSER)
    other.get(f"/r/{signer.click_token(extra, 1, '1001')}", headers=BROWSER)
    assert counted(*two_processes) == (BEACONS_PER_MINUTE + 1, CLICKS_PER_MINUTE + 1)


def test_a_click_is_a_training_event_at_most_once_per_visitor_item_and_day(two_processes):
    app = two_processes[0]
    client = app.test_client()
    client.get(panel(client)[2][0], headers=BROWSER)  # the beacon gives the client its visitor cookie
    signer = TokenSigner("test-secret")
    version = app.extensions["model_holder"].model.version
    for _ in range(5):  # five panels, each a fresh impression with a card for item 1001
        client.get(f"/r/{signer.click_token(Impression.new(version, '1000', 1, ['1001'], 'page'), 1, '1001')}",
                   headers=BROWSER)
    flush(app)
    assert totals(app)[1] == 5, "each panel's click is a click in the metrics"
    assert len(click_events(app)) == 1, "but one training event for the visitor and the item that day"
    row = {"visitor": "v-1", "item_id": "1001", "at": 5.5 * SECONDS_PER_DAY, "day": 5}
    assert click_event(row)["event_id"] == click_event(row | {"at": 5.9 * SECONDS_PER_DAY})["event_id"]
    assert click_event(row)["event_id"] != click_event(row | {"day": 6})["event_id"]
    assert click_event(row)["event_id"] != click_event(row | {"visitor": "v-2"})["event_id"]


def test_without_redis_each_process_counts_a_token_once(built_data_dir, tmp_path):
    """Redis configured but down: counting falls back to this process's memory, fast and never failing."""
    app = make_app(built_data_dir, DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
                   REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    _, links, beacons = panel(client)
    for _ in range(20):
        assert client.get(beacons[0], headers=BROWSER).status_code == 200
        assert client.get(links[0], headers=BROWSER).status_code == 302
    assert counted(app) == (1, 1)
    app.extensions["tracking"].database.close()


def test_behind_a_proxy_each_forwarded_client_counts_on_its_own(built_data_dir, tmp_path):
    app = make_app(built_data_dir, DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", trusted_proxies=1)
    _, _, beacons = panel(app.test_client())
    for client in ("198.51.100.30", "198.51.100.31"):
        for _ in range(10):
            app.test_client().get(beacons[0], headers=BROWSER | {"X-Forwarded-For": client},
                                  environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert counted(app) == (2, 0)
    app.extensions["tracking"].database.close()


def test_an_ipv6_client_counts_as_its_64():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("203.0.113.5") == "203.0.113.5" and client_key("?") == "?"


def test_local_marks_expire_and_stay_bounded():
    now = [0.0]
    marks = LocalMarks(max_keys=3, clock=lambda: now[0])
    assert [marks.add("a", 10) for _ in range(3)] == [1, 2, 3]
    now[0] = 11
    assert marks.add("a", 10) == 1, "a new window once the last one expired"
    for key in "bcd":
        marks.add(key, 10)
    assert marks.add("a", 10) == 1, "past max_keys the oldest key is forgotten"
    guard = TrackingGuard(lambda: None, lambda: "t:", clock=lambda: now[0])
    assert guard.should_count("beacon", "imp-1", "10.0.0.1", 5)
    assert not guard.should_count("beacon", "imp-1", "10.0.0.1", 5)

"""Impressions, clicks and A/B tests through the real app, on SQLite and on a PostgreSQL database of its own."""

from __future__ import annotations

import html
import re
import time

import pandas as pd
import pytest
from sqlalchemy import select

from recommender.index_store import IndexStore
from recommender.metrics.compact import CompactSigner, Packer
from recommender.metrics.tokens import CLICK_SALT, Impression, TokenSigner
from recommender.pipeline import build_and_publish
from recommender.store.tables import events
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog, two_kept_versions
from tests.helpers.processes import free_port
from tests.helpers.store_databases import database_url

ADMIN = {"Authorization": "Bearer test-admin-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
VISITORS = 200


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    return two_kept_versions(tmp_path_factory.mktemp("metrics-data"))


def _version(built) -> str:
    return built if isinstance(built, str) else built.version


@pytest.fixture(params=["sqlite", "postgresql"])
def tracked_app(request, two_versions, tmp_path):
    data_dir = two_versions[0]
    with database_url(request.param, tmp_path) as (url, _):
        app = make_app(data_dir, DATABASE_URL=url or f"sqlite:///{tmp_path / 'metrics.db'}")
        yield app
        app.extensions["tracking"].database.close()


def panel(client, item_id="1000", k=5, **params):
    response = client.get(f"/items/{item_id}/similar", query_string={"k": k, **params}, headers=BROWSER)
    body = response.get_data(as_text=True)
    links = [html.unescape(x) for x in re.findall(r'<h3><a href="(/r/[^"]+)"', body)]
    beacons = [html.unescape(x) for x in re.findall(r'<img class="likewise-beacon" src="([^"]+)"', body)]
    return response, links, beacons


def flush(app) -> None:
    app.extensions["tracking"].buffer.flush()


def metrics_of(client, version: str) -> dict:
    versions = client.get("/api/admin/metrics", headers=ADMIN).get_json()["versions"]
    return next(v for v in versions if v["version"] == version)


def test_panel_beacon_and_click_are_counted_per_version_and_feed_events(tracked_app):
    client = tracked_app.test_client()
    response, links, beacons = panel(client, k=5)
    assert len(links) == 5 and len(beacons) == 1
    assert 'loading="lazy" width="1" height="1" alt=""' in response.get_data(as_text=True)
    version = response.headers["X-Index-Version"]
    assert "Set-Cookie" not in response.headers, "a panel outside an experiment stays cacheable: no cookie"
    for attempt in range(3):
        gif = client.get(beacons[0], headers=BROWSER)
        assert gif.status_code == 200 and gif.content_type == "image/gif"
        assert gif.headers["Cache-Control"] == "no-store"
        if attempt == 0:
            assert "lw_visitor=" in gif.headers["Set-Cookie"] and "SameSite=Lax" in gif.headers["Set-Cookie"]
    clicked = client.get(links[1], headers=BROWSER)
    assert clicked.status_code == 302 and clicked.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"/items/\d+", clicked.headers["Location"])
    flush(tracked_app)
    found = metrics_of(client, version)
    assert (found["impressions"], found["clicks"]) == (1, 1), "a beacon counts once, however often it is fetched"
    assert found["ctr"] == pytest.approx(1) and found["ci_low"] < 1
    assert [p["clicks"] for p in found["by_position"]] == [0, 1, 0, 0, 0]
    assert found["by_surface"]["page"]["impressions"] == 1
    store, _ = tracked_app.extensions["tracking"].database.open()
    with store.engine.connect() as connection:
        stored = connection.execute(select(events).where(events.c.type == "click")).all()
    assert [row.item_id for row in stored] == [clicked.headers["Location"].rsplit("/", 1)[1]]
    assert stored[0].user_id == client.get_cookie("lw_visitor").value
    page = client.get("/admin/metrics", headers=ADMIN).get_data(as_text=True)
    # one day of data: the chart comes as a table (recommender/metrics/chart.py)
    assert "ctr-chart ctr-days" in page and f'data-version="{version}"' in page


def test_api_counts_only_when_asked_and_gives_click_urls(tracked_app):
    client = tracked_app.test_client()
    plain = client.get("/api/items/1000/similar?k=3").get_json()
    assert "impression_id" not in plain and "click_url" not in plain["results"][0]
    tracked = client.get("/api/items/1000/similar?k=3&track=1&visitor=app-user-7").get_json()
    assert tracked["impression_id"]
    assert all(r["click_url"].startswith("http://localhost/r/") for r in tracked["results"])
    assert client.get(tracked["results"][2]["click_url"], headers=BROWSER).status_code == 302
    flush(tracked_app)
    found = metrics_of(client, tracked["index_version"])
    assert found["by_surface"]["api"] == found["by_surface"]["api"] | {"impressions": 1, "clicks": 1}
    assert found["by_position"][2]["clicks"] == 1


def test_bots_are_not_counted(tracked_app):
    client = tracked_app.test_client()
    _, links, beacons = panel(client)
    for agent in ("Googlebot/2.1", "Slackbot-LinkExpanding 1.0", "curl/8.5.0", ""):
        client.get(beacons[0], headers={"User-Agent": agent})
        assert client.get(links[0], headers={"User-Agent": agent}).status_code == 302
    flush(tracked_app)
    versions = client.get("/api/admin/metrics", headers=ADMIN).get_json()["versions"]
    assert versions == [], "bot beacons and clicks count nowhere"


def _bad_token(tamper: str, impression: Impression) -> str:
    good = TokenSigner("test-secret").click_token(impression, 1, "1001")
    if tamper == "forged":
        return CompactSigner("test-secret", "another-salt", 60, 60).sign(impression.pack().uint(1).text("1001"))
    if tamper == "altered":
        return good[:-1] + ("A" if good[-1] != "A" else "B")
    if tamper == "truncated":
        return good[:len(good) // 2]
    if tamper == "expired":  # signed 31 days ago
        return TokenSigner("test-secret", clock=lambda: time.time() - 31 * 86_400).click_token(impression, 1, "1001")
    if tamper == "foreign":
        return TokenSigner("someone-elses-secret").click_token(impression, 1, "1001")
    if tamper == "out-of-range":
        return TokenSigner("test-secret").click_token(impression, 6, "1001")
    if tamper == "malformed":
        return CompactSigner("test-secret", CLICK_SALT, 60, 60).sign(Packer().text("1001"))
    return "https:%2F%2Fevil.example"


@pytest.mark.parametrize("tamper", ["forged", "altered", "truncated", "expired", "foreign", "out-of-range",
                                    "malformed", "garbage"])
def test_bad_redirect_tokens_are_refused_and_never_redirect(app, tamper):
    client = app.test_client()
    impression = Impression.new("v1", "1000", 5, ["1001"], "embed")
    token = _bad_token(tamper, impression)
    response = client.get(f"/r/{token}", headers=BROWSER)
    assert "Location" not in response.headers
    if tamper == "garbage":  # its %2F is a path separator: no route matches
        assert response.status_code == 404
    else:
        assert response.status_code == 400 and "This link is not valid" in response.get_data(as_text=True)
    assert "evil" not in response.get_data(as_text=True)
    good = TokenSigner("test-secret").click_token(impression, 1, "1001")
    assert client.get(f"/r/{good}", headers=BROWSER).status_code == 302
    beacon = TokenSigner("test-secret").beacon_token(impression)
    assert client.get(f"/r/{beacon}").status_code == 400, "a beacon token is no click token"
    assert client.get(f"/i/{good}.gif").status_code == 400, "a click token is no beacon token"
    assert client.get(f"/i/{token}.gif").status_code in (400, 404)


def test_click_tokens_name_items_not_urls_and_only_http_urls_are_followed(tmp_path):
    """An item's own url is followed from embeds (http(s) only); a page card always goes to Likewise's item page."""
    catalog = make_catalog(tmp_path / "cat", n_items=24)


    items = pd.read_csv(catalog.items)
    items["url"] = [f"https://shop.example/p/{i}" if i % 2 else "javascript:alert(1)" for i in range(len(items))]
    items.to_csv(catalog.items, index=False)
    build_and_publish(IndexStore(tmp_path / "data" / "indexes"), catalog)
    app = make_app(tmp_path / "data")
    client = app.test_client()
    signer = TokenSigner("test-secret")
    assert CLICK_SALT not in signer.click_token(Impression.new("v", "1000", 3, [], "embed"), 1, "1001")
    for item_id, surface, expected in (("1001", "embed", "https://shop.example/p/1"),
                                       ("1002", "embed", "http://localhost/items/1002"),
                                       ("1001", "page", "/items/1001")):
        token = signer.click_token(Impression.new("v", "1000", 3, [item_id], surface), 1, item_id)
        assert client.get(f"/r/{token}", headers=BROWSER).headers["Location"] == expected
    gone = client.get(f"/r/{signer.click_token(Impression.new('v', '1000', 3, ['nope'], 'embed'), 1, 'nope')}",
                      headers=BROWSER)
    assert (gone.status_code, gone.headers["Location"]) == (302, "/items/nope"), "a plain redirect, not a click"


def test_store_down_drops_rows_with_a_counter_and_pages_still_answer(two_versions):
    app = make_app(two_versions[0], DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    client = app.test_client()
    response, links, beacons = panel(client)
    assert response.status_code == 200
    started = time.monotonic()
    assert client.get(beacons[0], headers=BROWSER).status_code == 200
    assert client.get(links[0], headers=BROWSER).status_code == 302
    assert time.monotonic() - started < 2, "recording only appends to the buffer"
    assert app.extensions["tracking"].buffer.flush() == 0
    assert app.extensions["tracking"].buffer.counters.dropped == 2
    dashboard = client.get("/admin", headers=ADMIN).get_data(as_text=True)
    assert '<span class="dropped">2 dropped</span>' in dashboard
    assert client.get("/api/admin/metrics", headers=ADMIN).status_code == 503
    assert panel(client)[0].status_code == 200


def _arm_of(client, visitor: str) -> str:
    response = client.get(f"/api/items/1000/similar?k=3&track=1&visitor={visitor}")
    assert response.status_code == 200
    return response.headers["X-Index-Version"]


def test_ab_test_splits_sticks_pins_control_and_reports(tracked_app, two_versions):
    from scipy import stats

    client = tracked_app.test_client()
    _, old, new = two_versions
    control, challenger = _version(new), _version(old)
    assert client.post("/api/admin/experiments", json={"challenger": control}, headers=ADMIN).status_code == 400
    started = client.post("/api/admin/experiments", json={"challenger": challenger, "share": 0.3}, headers=ADMIN)
    assert started.status_code == 201, started.get_json()
    experiment_id = started.get_json()["experiment_id"]
    again = client.post("/api/admin/experiments", json={"challenger": challenger}, headers=ADMIN)
    assert again.status_code == 409
    served = {f"v{i}": _arm_of(client, f"v{i}") for i in range(VISITORS)}
    low, high = stats.binom.interval(0.999, VISITORS, 0.3)
    assert low <= list(served.values()).count(challenger) <= high
    assert set(served.values()) == {control, challenger}
    repeat = {visitor: _arm_of(client, visitor) for visitor in list(served)[:50]}
    assert all(served[v] == repeat[v] for v in repeat), "the same visitor always gets the same arm"
    flush(tracked_app)
    report = client.get(f"/api/admin/experiments/{experiment_id}", headers=ADMIN).get_json()
    arms = {arm["arm"]: arm for arm in report["arms"]}
    assert arms["control"]["version"] == control and arms["challenger"]["share"] == 0.3
    assert arms["challenger"]["impressions"] == list(served.values()).count(challenger) + list(
        repeat.values()).count(challenger)
    assert arms["control"]["impressions"] + arms["challenger"]["impressions"] == VISITORS + 50
    assert report["verdict"] == "not enough data yet" and report["p_value"] is None
    refused = client.post(f"/api/admin/experiments/{experiment_id}/stop", json={"promote": challenger}, headers=ADMIN)
    assert refused.status_code == 503, "no job queue: the promotion is refused and the experiment keeps running"
    assert client.get(f"/api/admin/experiments/{experiment_id}", headers=ADMIN).get_json()["running"]
    stopped = client.post(f"/api/admin/experiments/{experiment_id}/stop", json={"promote": None}, headers=ADMIN)
    assert stopped.status_code == 200 and not stopped.get_json()["running"]
    assert {_arm_of(client, f"v{i}") for i in range(20)} == {control}, "after the stop everyone gets current"


def test_control_stays_pinned_when_a_rebuild_moves_current(tmp_path):
    data_dir = tmp_path / "data"
    store = IndexStore(data_dir / "indexes")
    first = _version(build_and_publish(store, make_catalog(tmp_path / "a", n_items=40, seed=1)))
    second = _version(build_and_publish(store, make_catalog(tmp_path / "b", n_items=40, seed=2)))
    app = make_app(data_dir)
    client = app.test_client()
    assert client.post("/api/admin/experiments", json={"challenger": first, "share": 0.5},
                       headers=ADMIN).status_code == 201
    third = _version(build_and_publish(store, make_catalog(tmp_path / "c", n_items=40, seed=4)))
    holder = app.extensions["model_holder"]
    holder.refresh()
    assert holder.model.version == third
    answered = {_arm_of(client, f"visitor-{i}") for i in range(40)}
    assert answered == {first, second}, "the control arm keeps answering from the pinned version"

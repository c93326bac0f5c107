"""The panel (list) dimension of the metrics: tokens name their list, impressions and clicks store it, the
admin metrics count CTR per panel and per version, tokens and rows from before panels stay similar panels."""

from __future__ import annotations

import html
import re

import pytest
from alembic import command
from sqlalchemy import select

from recommender.metrics.compact import CompactSigner, Packer
from recommender.metrics.schema import clicks, impressions
from recommender.metrics.tokens import (
    LEGACY_BEACON_SALT,
    LEGACY_CLICK_SALT,
    PANELS,
    TOKEN_FUTURE_LEEWAY_SECONDS,
    TOKEN_MAX_AGE_SECONDS,
    Impression,
    TokenRefused,
    TokenSigner,
)
from recommender.store import make_engine
from recommender.store.migrate import _config, upgrade
from tests.helpers.apps import make_app
from tests.helpers.catalogs import two_kept_versions
from tests.helpers.store_databases import backend, database_url, db_url  # noqa: F401 - fixtures
from web.services.tracking import impression_beacon, track_impression, track_link

SECRET = "test-secret"
ADMIN = {"Authorization": "Bearer test-admin-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}


def impression(**changes) -> Impression:
    fields = {"version": "v1", "source": "4990", "k": 5, "shown": ["1", "2", "3"], "surface": "page"} | changes
    return Impression.new(**fields)


@pytest.mark.parametrize("panel", PANELS)
def test_every_panel_round_trips_in_beacon_and_click_tokens(panel):
    signer = TokenSigner(SECRET)
    shown = impression(panel=panel, source="")
    assert signer.read_beacon(signer.beacon_token(shown)) == shown
    assert signer.read_click(signer.click_token(shown, 2, "2")).impression.panel == panel


def test_an_unknown_panel_is_refused_when_made():
    with pytest.raises(ValueError, match="panel must be one of"):
        impression(panel="homepage")


def _legacy_fields(old: Impression) -> Packer:
    """An impression in the layout before panels: surface, then straight to arm and experiment."""
    return (Packer().text(old.impression_id).text(old.version).text(old.source).uint(old.k).uint(0)
            .maybe_text(None).maybe_text(None))


def test_tokens_signed_before_panels_still_read_as_similar_panels():
    """The layout and salts before panels (no panel field): such tokens live up to 30 days in cached pages."""
    old = impression()
    beacon = CompactSigner(SECRET, LEGACY_BEACON_SALT, TOKEN_MAX_AGE_SECONDS, TOKEN_FUTURE_LEEWAY_SECONDS)
    click = CompactSigner(SECRET, LEGACY_CLICK_SALT, TOKEN_MAX_AGE_SECONDS, TOKEN_FUTURE_LEEWAY_SECONDS)
    signer = TokenSigner(SECRET)
    read = signer.read_click(click.sign(_legacy_fields(old).uint(1).text("1")))
    assert (read.impression.panel, read.impression.source, read.position) == ("similar", "4990", 1)
    assert signer.read_beacon(beacon.sign(_legacy_fields(old).uint(1).text("7"))).shown == ("7",)
    with pytest.raises(TokenRefused, match="another key"):
        TokenSigner("other-secret").read_click(click.sign(_legacy_fields(old).uint(1).text("1")))
    current_layout = old.pack().uint(1).text("1")
    with pytest.raises(TokenRefused, match="left over|cut short|unknown"):
        signer.read_click(click.sign(current_layout))  # the new layout under an old salt is not misread


def test_old_rows_become_similar_panels_when_migrated(db_url):  # noqa: F811 - fixture
    engine = make_engine(*db_url)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO impressions (impression_id, version, surface, source_item, visitor, at, day, k, shown, "
            "shown_count) VALUES ('old', 'v0', 'page', '1', 'x', 1.0, 0, 3, '[]', 0)")
        connection.exec_driver_sql(
            "INSERT INTO clicks (impression_id, version, surface, source_item, visitor, at, day, position, item_id, "
            "bot) VALUES ('old', 'v0', 'page', '1', 'x', 1.0, 0, 1, '2', false)")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(select(impressions.c.panel)).scalars().all() == ["similar"]
        assert connection.execute(select(clicks.c.panel)).scalars().all() == ["similar"]
    engine.dispose()


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    return two_kept_versions(tmp_path_factory.mktemp("panel-metrics-data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def tracked_app(request, two_versions, tmp_path):
    with database_url(request.param, tmp_path) as (url, _):
        app = make_app(two_versions[0], DATABASE_URL=url or f"sqlite:///{tmp_path / 'metrics.db'}")
        yield app
        app.extensions["tracking"].database.close()


def _tracked_list(app, panel: str, shown: list[str]) -> tuple[str, list[str]]:
    """What a list about no item does to be tracked: its beacon and click links, made by the tracking service."""
    with app.test_request_context("/", headers=BROWSER):
        model = app.extensions["model_holder"].model
        items = [model.get_item(item_id) for item_id in shown]
        tracked = track_impression(None, items, len(items), panel=panel)
        beacon = html.unescape(re.search(r'src="([^"]+)"', str(impression_beacon(tracked))).group(1))
        return beacon, [track_link(tracked, position, item) for position, item in enumerate(items, start=1)]


def test_impressions_and_clicks_are_counted_per_panel_and_version(tracked_app):
    client = tracked_app.test_client()
    similar = client.get("/items/1000/similar", query_string={"k": 4}, headers=BROWSER).get_data(as_text=True)
    similar_beacon = html.unescape(re.search(r'<img class="likewise-beacon" src="([^"]+)"', similar).group(1))
    items = [r["item_id"] for r in client.get("/api/items/1000/similar?k=3").get_json()["results"]]
    beacon, links = _tracked_list(tracked_app, "for-you", items)
    for url in (similar_beacon, beacon):
        assert client.get(url, headers=BROWSER).status_code == 200
    assert client.get(links[0], headers=BROWSER).status_code == 302
    assert client.get(links[2], headers=BROWSER).status_code == 302
    tracked_app.extensions["tracking"].buffer.flush()
    answer = client.get("/api/admin/metrics", headers=ADMIN).get_json()
    panels = {p["panel"]: p for p in answer["panels"]}
    assert (panels["for-you"]["impressions"], panels["for-you"]["clicks"]) == (1, 2)
    assert (panels["similar"]["impressions"], panels["similar"]["clicks"]) == (1, 0)
    version = answer["versions"][0]
    assert version["by_panel"]["for-you"]["clicks"] == 2 and version["by_panel"]["similar"]["impressions"] == 1
    assert panels["for-you"]["by_version"][version["version"]]["impressions"] == 1
    page = client.get("/admin/metrics", headers=ADMIN).get_data(as_text=True)
    assert 'data-panel="for-you"' in page and 'data-panel="similar"' in page
    store, _ = tracked_app.extensions["tracking"].database.open()
    with store.engine.connect() as connection:
        stored = connection.execute(select(clicks.c.panel, clicks.c.source_item)).all()
    assert sorted(stored) == [("for-you", ""), ("for-you", "")]

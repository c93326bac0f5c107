"""Trending is a tracked surface (issue 24): its fragment's beacon and click links, and /api/trending?track=1,
count impressions and clicks under the "trending" panel on /api/admin/metrics (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re

import pytest

from tests.helpers.apps import make_app
from tests.helpers.catalogs import two_kept_versions
from tests.helpers.store_databases import database_url

ADMIN = {"Authorization": "Bearer test-admin-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
HX = {"HX-Request": "true", **BROWSER}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    return two_kept_versions(tmp_path_factory.mktemp("list-tracking-data"))


@pytest.fixture(params=["sqlite", "postgresql"])
def tracked_app(request, two_versions, tmp_path):
    with database_url(request.param, tmp_path) as (url, _):
        app = make_app(two_versions[0], DATABASE_URL=url or f"sqlite:///{tmp_path / 'metrics.db'}")
        yield app
        app.extensions["tracking"].database.close()


def test_trending_impressions_and_clicks_count_under_their_panel(tracked_app):
    client = tracked_app.test_client()
    events = [{"user_id": f"u{n}", "item_id": item, "type": "view"} for n in range(5) for item in ("1000", "1001")]
    assert client.post("/api/events", json={"events": events}, headers=ADMIN).status_code == 202
    fragment = client.get("/trending", headers=HX).get_data(as_text=True)
    beacon = html.unescape(re.search(r'<img class="likewise-beacon" src="([^"]+)"', fragment).group(1))
    link = html.unescape(re.search(r'<h3><a href="(/r/[^"]+)"', fragment).group(1))
    assert client.get(beacon, headers=BROWSER).status_code == 200
    assert client.get(link, headers=BROWSER).status_code == 302
    tracked = client.get("/api/trending", query_string={"track": 1, "k": 2}, headers=BROWSER).get_json()
    assert tracked["impression_id"] and all("/r/" in r["click_url"] for r in tracked["results"])
    assert [r["item_id"] for r in tracked["results"]] == ["1000", "1001"]
    assert all(r["basis"] == "trending" for r in tracked["results"])
    tracked_app.extensions["tracking"].buffer.flush()
    panels = {p["panel"]: p for p in client.get("/api/admin/metrics", headers=ADMIN).get_json()["panels"]}
    assert (panels["trending"]["impressions"], panels["trending"]["clicks"]) == (2, 1)
    assert "similar" not in panels or panels["similar"]["impressions"] == 0

"""Issue 11 (low): values the web tier must refuse or never emit."""

from __future__ import annotations

import pytest
from flask import render_template

from recommender.limits import YEAR_MAX, YEAR_MIN
from recommender.model import Item


@pytest.mark.parametrize("name, value", [("year_min", YEAR_MAX + 1), ("year_max", YEAR_MAX + 1),
                                         ("year_min", 9999)])
def test_years_outside_the_stated_range_are_refused(client, model, name, value):
    item = model.items["item_id"].iloc[0]
    response = client.get(f"/api/items/{item}/similar?{name}={value}")
    assert response.status_code == 400
    assert f"between {YEAR_MIN} and {YEAR_MAX}" in response.get_json()["error"]


def test_the_largest_stated_year_is_accepted(client, model):
    item = model.items["item_id"].iloc[0]
    assert client.get(f"/api/items/{item}/similar?year_max={YEAR_MAX}").status_code == 200


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:image/png;base64,AAAA", "//evil.example/x.png",
                                 "ftp://host/x.png", " JAVASCRIPT:alert(1)"])
def test_a_non_http_image_is_never_put_in_img_src(app, url):
    item = Item(item_id="1", title="A title", attributes={"image_url": url})
    assert item.image_url is None
    with app.test_request_context("/"):
        card = render_template("partials/item_card.html", item=item, score=None, why=None)
    assert "<img" not in card and url.strip() not in card


def test_an_https_image_is_shown(app):
    item = Item(item_id="1", title="A title", attributes={"image": "https://img.example/1.png"})
    with app.test_request_context("/"):
        card = render_template("partials/item_card.html", item=item, score=None, why=None)
    assert 'src="https://img.example/1.png"' in card

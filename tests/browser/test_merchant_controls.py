"""Merchant controls in a real browser, with and without JavaScript: the numeric range filter of the item page's
similar panel, and the admin page's rules form (issue 25). Cars93 (MASS) is uploaded into the store, built from
it and served by gunicorn; no worker is needed (rules apply at serving time)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from recommender.catalog.load import read_items
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from recommender.store import DatabaseCatalogSource, Store
from tests.browser.conftest import _close_checked, _get, new_page
from tests.helpers.browser import Problems, sign_in
from tests.helpers.catalogs import cars93_items
from tests.helpers.processes import delete_prefixed, redis_server, service_env, start_gunicorn, wait_for

pytestmark = pytest.mark.browser
MAX_PRICE = 20


@dataclass
class CarsStack:
    base: str
    items: object  # the uploaded items, by item_id


@pytest.fixture(scope="module")
def cars_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cars-browser")
    logs = tmp_path_factory.mktemp("cars-browser-logs")
    items, _ = read_items(cars93_items(data_dir / "source"))
    store = Store.open(None, data_dir)
    store.replace_catalog(items)
    build_and_publish(IndexStore(data_dir / "indexes"), DatabaseCatalogSource(store))
    store.engine.dispose()
    prefix = f"likewise-cars-{uuid.uuid4().hex[:8]}:"
    with redis_server() as (redis_url, _process):
        web = None
        try:
            web, base = start_gunicorn(service_env(data_dir, redis_url, prefix), logs, workers=1)
            wait_for(lambda: _get(base + "/readyz") == 200, 30, "gunicorn to load the Cars93 index")
            yield CarsStack(base, items.set_index("item_id"))
        finally:
            if web is not None:
                web.stop()
            delete_prefixed(redis_url, prefix)


@pytest.fixture(params=[True, False], ids=["javascript", "no-javascript"])
def car_page(request, browser, cars_stack):
    problems = Problems()
    page = new_page(browser, cars_stack, problems, java_script_enabled=request.param)
    page.problems = problems
    yield page, request.param
    _close_checked(page, problems)


def shown_ids(page) -> list[str]:
    return page.locator("#similar-panel .card h3 a").evaluate_all("links => links.map(a => a.dataset.itemId)")


def open_panel(page, javascript: bool, item_id: str, k: int = 10) -> None:
    """The item page's panel; a k not asked for before, so no answer the browser cached (max-age) is reused."""
    page.goto(f"/items/{item_id}?k={k}")
    if not javascript:
        page.get_by_role("link", name=re.compile(f"Show the {k} most similar items")).click()
    expect(page.locator("#similar-panel .card")).to_have_count(k)


def test_a_numeric_range_filter_on_the_item_page(car_page, cars_stack):
    page, javascript = car_page
    items = cars_stack.items
    page_item = items["Price"].idxmax()
    open_panel(page, javascript, page_item)
    page.get_by_label("Price to").fill(str(MAX_PRICE))
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"max\.Price={MAX_PRICE}"))
    expect(page.locator("#similar-panel .card")).to_have_count(10)
    expect(page.locator("#similar-panel .panel-head .meta")).to_contain_text("filtered out")
    ids = shown_ids(page)
    assert len(ids) == 10 and all(items.loc[i, "Price"] <= MAX_PRICE for i in ids), ids
    expect(page.get_by_label("Price to")).to_have_value(str(MAX_PRICE))


def test_the_rules_form_pins_an_item_and_deletes_the_rule(car_page, cars_stack):
    page, javascript = car_page
    items = cars_stack.items
    rule_id = f"pin-{'js' if javascript else 'plain'}"
    page_item = "1"
    open_panel(page, javascript, page_item)
    near = set(shown_ids(page))
    pinned = next(i for i in items.index if i not in near and i != page_item)
    page.problems.allow(r"status of 422")  # the refused rule, on purpose
    sign_in(page)
    form = page.locator("#rule-form")
    form.get_by_label("Rule id").fill(rule_id)
    form.get_by_label("Surface").select_option("similar")
    form.get_by_label("Action").select_option("pin")
    form.get_by_role("button", name="Save rule").click()  # no item_id: refused
    expect(page.locator("#rule-problem")).to_contain_text("item_id")
    page.locator("#rule-form").get_by_label("Rule id").fill(rule_id)
    page.locator("#rule-form").get_by_label("Action").select_option("pin")
    page.locator("#rule-form").get_by_label("Item id (pin)").fill(pinned)
    page.locator("#rule-form").get_by_label("Position (pin, 1 = first)").fill("1")
    page.locator("#rule-form").get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules-table")).to_contain_text(rule_id)
    open_panel(page, javascript, page_item, k=9)
    assert shown_ids(page)[0] == pinned
    expect(page.locator("#similar-panel .card").first).to_contain_text(f"Pinned by rule {rule_id}")
    page.goto("/admin")
    page.get_by_role("button", name=f"Delete rule {rule_id}").click()
    expect(page.get_by_text(f"Rule {rule_id} deleted.")).to_be_visible()
    expect(page.locator("#rules-table")).to_have_count(0)
    open_panel(page, javascript, page_item, k=8)
    assert shown_ids(page)[0] != pinned

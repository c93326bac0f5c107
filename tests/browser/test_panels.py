"""The personal lists in a real browser, on the browser stack's demo catalog: a visitor whose events (sent to
the events API) name three animated films sees for-you and because-you-viewed on the home page, with
JavaScript (htmx loads them) and without (plain links to their pages); and for-you embedded on another origin."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_embed import HOST_TEMPLATE, host_sites, likewise, open_checked  # noqa: F401 - fixtures
from tests.helpers.browser import ADMIN_TOKEN, Problems, screenshot, wait_settled

pytestmark = pytest.mark.browser

ANIMATED = ("Toy Story", "Finding Nemo", "Up")


def animated_ids(stack) -> list[str]:
    items = pd.read_csv(stack.data_dir / "catalog" / "items.csv", dtype={"item_id": str})
    return [items.loc[items["title"] == title, "item_id"].iloc[0] for title in ANIMATED]


def send_views(base: str, visitor: str, item_ids: list[str]) -> None:
    body = json.dumps({"events": [{"user_id": visitor, "item_id": i, "type": "view"} for i in item_ids]}).encode()
    request = urllib.request.Request(base + "/api/events", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["accepted"] == len(item_ids)


def visitor_with_history(stack, page: Page) -> str:
    visitor = "browser-" + uuid.uuid4().hex[:10]
    send_views(stack.base, visitor, animated_ids(stack))
    page.context.add_cookies([{"name": "lw_visitor", "value": visitor, "url": stack.base}])
    return visitor


def check_for_you(page: Page) -> None:
    cards = page.locator("#for-you .card")
    expect(cards).to_have_count(10)
    expect(cards.locator(".why").first).to_contain_text("Because you viewed")
    titles = [t.strip() for t in cards.locator("h3").all_inner_texts()]
    assert not set(titles) & set(ANIMATED), titles


def test_home_page_shows_the_lists_of_a_visitor_with_history(stack, page):
    visitor_with_history(stack, page)
    page.goto("/")
    check_for_you(page)
    rows = page.locator("#because-you-viewed .because-row")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(":scope > h3")).to_have_text("Because you viewed Up")
    wait_settled(page)
    screenshot(page, "home-for-you")
    page.locator("#for-you").get_by_role("link", name="Refresh").click()
    check_for_you(page)
    expect(page).to_have_url(re.compile(r"/$"))  # the refresh swapped the section, the page stayed


def test_home_page_without_javascript_links_to_the_lists(stack, page_without_js):
    page = page_without_js
    visitor_with_history(stack, page)
    page.goto("/")
    page.get_by_role("link", name="Show for you").click()
    expect(page).to_have_url(re.compile(r"/for-you\?k=10$"))
    check_for_you(page)
    page.goto("/")
    page.get_by_role("link", name="Show because you viewed").click()
    expect(page.locator("#because-you-viewed .because-row")).to_have_count(3)
    expect(page.locator("#because-you-viewed .card").first).to_be_visible()


def test_for_you_embedded_on_another_origin(browser, stack, likewise, host_sites):  # noqa: F811 - fixtures
    visitor = "embed-" + uuid.uuid4().hex[:10]
    send_views(likewise, visitor, animated_ids(stack))
    url = f"{likewise}/embed/for-you?visitor={visitor}&k=6"
    snippet = (f'<meta name="htmx-config" content=\'{{"selfRequestsOnly": false}}\'>'
               f'<script src="{likewise}/static/vendor/htmx-{htmx_version(likewise)}.min.js" defer></script>'
               f'<link rel="stylesheet" href="{likewise}/embed/likewise.css">'
               f'<div class="likewise-for-you-box" hx-get="{url}" hx-trigger="load">'
               f'<a href="{likewise}/">Shop</a></div>')
    frame = f'<iframe src="{url}&frame=1" title="For you" width="100%" height="480"></iframe>'
    (host_sites[0].directory / "for-you.html").write_text(HOST_TEMPLATE.format(snippet=snippet, frame_snippet=frame),
                                                          encoding="utf-8")
    problems = Problems()
    page = open_checked(browser, problems)
    try:
        page.goto(host_sites[0].url("for-you.html"))
        cards = page.locator(".likewise-for-you-box .likewise-card")
        expect(cards).to_have_count(6)
        expect(page.locator(".likewise-for-you-box .likewise-for-you")).to_have_attribute("data-basis", "history")
        expect(cards.locator(".likewise-why").first).to_contain_text("Because you viewed")
        for link in cards.locator("a.likewise-link").all():
            expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(likewise)}/r/"))
        expect(page.frame_locator("iframe[title='For you']").locator(".likewise-card")).to_have_count(6)
        screenshot(page, "embed-for-you")
        assert not problems.unexpected(), "the browser saw errors:\n" + "\n".join(problems.unexpected())
    finally:
        page.context.close()


def htmx_version(base: str) -> str:
    """The htmx file Likewise serves, as its own pages link it."""
    with urllib.request.urlopen(base + "/", timeout=10) as response:
        return re.search(r"vendor/htmx-([0-9.]+)\.min\.js", response.read().decode()).group(1)

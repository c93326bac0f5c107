"""Screenshots of the main pages on a desktop and a phone, written to test-output/screenshots/ for review.

Each one also checks that the page fits the viewport's width (nothing to scroll sideways)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import DESKTOP, PHONE, screenshot, wait_settled

pytestmark = pytest.mark.browser
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def fits_width(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the viewport"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_home_with_results(open_page, viewport):
    page = open_page(viewport=VIEWPORTS[viewport])
    page.goto("/")
    page.get_by_label("Search titles").focus()
    page.keyboard.type("star wars", delay=20)
    expect(page.locator("#results .hits a").first).to_contain_text("Star Wars")
    wait_settled(page)
    fits_width(page)
    screenshot(page, f"home-{viewport}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_item_page(open_page, viewport):
    page = open_page(viewport=VIEWPORTS[viewport])
    page.goto("/items/1")
    expect(page.locator("#similar-panel .card")).to_have_count(10)
    wait_settled(page)
    fits_width(page)
    screenshot(page, f"item-{viewport}")


def test_similar_by_id_with_results(open_page):
    page = open_page(viewport=DESKTOP)
    page.goto("/items/similar")
    page.get_by_label("Item id").fill("1")
    page.get_by_label("Item id").press("Enter")
    expect(page.locator("#similar-results tbody tr")).to_have_count(10)
    wait_settled(page)
    fits_width(page)
    screenshot(page, "similar-desktop")

"""With JavaScript off every page still works through plain links and forms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import ADMIN_TOKEN

pytestmark = pytest.mark.browser


def test_search_submits_and_shows_results(page_without_js):
    page = page_without_js
    page.goto("/")
    expect(page.locator("#results").get_by_role("heading", name="Popular items")).to_be_visible()
    box = page.get_by_label("Search titles")
    box.fill("toy sto")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q=toy\+sto$"))
    expect(page.locator("#results .hits a").first).to_contain_text("Toy Story")
    expect(page.get_by_label("Search titles")).to_have_value("toy sto")
    expect(page.get_by_text("Press Enter to search.")).to_be_visible()
    expect(page.get_by_text("Results update as you type")).to_be_hidden()

    page.get_by_label("Search titles").fill("jumanji")
    page.get_by_label("Search titles").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=jumanji$"))
    expect(page.locator("#results .hits a").first).to_contain_text("Jumanji")


def test_item_page_shows_similar_items_through_the_plain_link(page_without_js):
    page = page_without_js
    page.goto("/items/1")
    expect(page.locator("#similar-panel .card")).to_have_count(0)
    expect(page.get_by_text("Finding the 10 most similar items")).to_be_hidden()
    page.get_by_role("link", name="Show the 10 most similar items").click()
    expect(page).to_have_url(re.compile(r"/items/1/similar$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story")
    expect(page.locator("#similar-panel .card")).to_have_count(10)

    # The panel's own form works as a plain GET form too.
    page.get_by_label("Show", exact=True).select_option("5")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/items/1/similar\?k=5"))
    expect(page.locator("#similar-panel .card")).to_have_count(5)


def test_similar_form_posts_and_shows_results(page_without_js):
    page = page_without_js
    page.goto("/items/similar")
    page.get_by_label("Item id").fill("1")
    page.get_by_role("button", name="Find similar items").click()
    expect(page.locator("#similar-results tbody tr")).to_have_count(10)
    expect(page.locator("#similar-results h2")).to_contain_text("Toy Story")


def test_admin_sign_in_works(page_without_js):
    page = page_without_js
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=(/|%2F)admin$"))
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(page.get_by_role("heading", level=1, name="Admin")).to_be_visible()
    expect(page.locator("#index-card")).to_contain_text("Version")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_a_typo_is_corrected_through_a_plain_link(page_without_js):
    page = page_without_js
    page.goto("/")
    page.get_by_label("Search titles").fill("back to teh future")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q=back\+to\+teh\+future$"))
    expect(page.locator("#results .hits a").first).to_contain_text("Back to the Future")
    link = page.locator("#results .corrected").get_by_role("link", name="back to the future")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"/search\?q=back\+to\+the\+future$"))
    expect(page.locator("#results .hits a").first).to_contain_text("Back to the Future")
    expect(page.locator("#results .corrected")).to_have_count(0)

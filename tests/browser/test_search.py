"""Live search in a real browser: results follow the typing without a page load, and the keyboard gets to them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_same_document, htmx_requests, mark_document, slow_network, wait_settled

pytestmark = pytest.mark.browser


def type_query(page, text: str) -> None:
    box = page.get_by_label("Search titles")
    box.focus()
    page.keyboard.type(text, delay=80)


def test_live_search_shows_results_without_a_page_load(page):
    page.goto("/")
    results = page.locator("#results")
    expect(results).to_have_attribute("aria-live", "polite")
    expect(results.get_by_role("heading", name="Popular items")).to_be_visible()
    mark_document(page)
    asked = htmx_requests(page)

    type_query(page, "toy sto")

    first = results.locator(".hits a").first
    expect(first).to_contain_text("Toy Story")
    expect(results).to_contain_text("matches for “toy sto”")
    expect(results.get_by_role("heading", name="Popular items")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/search\?q=toy(\+|%20)sto$"))
    assert_same_document(page)
    wait_settled(page)
    assert asked, "no htmx request was made"
    assert all("/search?q=" in r.url for r in asked)
    assert len(asked) <= 3, f"typing 7 letters should be debounced, saw {len(asked)} requests"
    assert re.search(r"q=toy(\+|%20)sto$", asked[-1].url)
    expect(first.locator("mark").first).to_have_text(re.compile("toy", re.I))


def test_tab_reaches_the_first_result_and_enter_opens_it(page):
    page.goto("/")
    type_query(page, "toy sto")
    first = page.locator("#results .hits a").first
    expect(first).to_contain_text("Toy Story")
    wait_settled(page)

    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/items/1$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story")


def test_no_match_shows_a_helpful_empty_state(page):
    page.goto("/")
    mark_document(page)
    type_query(page, "zzqxv")
    empty = page.locator("#results .empty")
    expect(empty).to_contain_text("No titles match “zzqxv”")
    expect(empty).to_contain_text("Try fewer words")
    assert_same_document(page)


def test_back_after_opening_a_result_shows_the_same_search(page):
    page.goto("/")
    type_query(page, "toy")
    expect(page.locator("#results .hits a").first).to_contain_text("Toy Story")
    page.get_by_label("Search titles").fill("")
    type_query(page, "jumanji")
    hit = page.locator("#results .hits a").first
    expect(hit).to_contain_text("Jumanji")
    expect(page).to_have_url(re.compile(r"/search\?q=jumanji$"))
    wait_settled(page)

    hit.click()
    expect(page).to_have_url(re.compile(r"/items/2$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jumanji")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=jumanji$"))
    expect(page.locator("#results .hits a").first).to_contain_text("Jumanji")
    expect(page.locator("#results")).not_to_contain_text("Toy Story")
    expect(page.get_by_label("Search titles")).to_have_value("jumanji")

    page.go_forward()
    expect(page).to_have_url(re.compile(r"/items/2$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jumanji")


def test_a_spinner_shows_while_the_search_runs(page):
    page.goto("/")
    spinner = page.locator("#search-indicator")
    expect(spinner).to_have_css("opacity", "0")
    slow_network(page, 1500)
    type_query(page, "toy")
    expect(spinner).to_have_css("opacity", "1")
    expect(page.locator("#results")).to_have_css("opacity", "0.55")  # the old results fade while they are replaced
    expect(page.locator("#results .hits a").first).to_contain_text("Toy Story")
    expect(spinner).to_have_css("opacity", "0")
    expect(page.locator("#results")).to_have_css("opacity", "1")


def test_a_typo_shows_what_it_was_read_as_and_the_link_searches_for_that(page):
    """'star wras' finds Star Wars as you type, says "Showing results for star wars" as a plain link, and
    the link opens that search (a normal navigation, no htmx needed)."""
    page.goto("/")
    type_query(page, "star wras")
    results = page.locator("#results")
    expect(results.locator(".hits a").first).to_contain_text("Star Wars")
    corrected = results.locator(".corrected")
    expect(corrected).to_contain_text("Showing results for star wars")
    link = corrected.get_by_role("link", name="star wars")
    expect(link).to_have_attribute("href", "/search?q=star+wars")
    wait_settled(page)
    link.click()
    expect(page).to_have_url(re.compile(r"/search\?q=star\+wars$"))
    expect(page.get_by_label("Search titles")).to_have_value("star wars")
    expect(page.locator("#results .hits a").first).to_contain_text("Star Wars")
    expect(page.locator("#results .corrected")).to_have_count(0)


def test_a_word_that_matches_nothing_does_not_empty_the_results(page):
    page.goto("/")
    type_query(page, "matrix qwzx")
    expect(page.locator("#results .hits")).to_contain_text("Matrix, The")
    expect(page.locator("#results .corrected")).to_contain_text("Showing results for matrix")

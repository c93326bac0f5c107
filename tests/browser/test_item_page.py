"""The item page: the similar panel arrives by htmx, its controls update only the panel, history works."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_same_document, htmx_requests, mark_document, slow_network, wait_settled

pytestmark = pytest.mark.browser


def cards(page):
    return page.locator("#similar-panel ol.cards > li")


def open_item(page, path: str = "/items/1"):
    asked = htmx_requests(page)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story")
    expect(cards(page)).to_have_count(10)
    wait_settled(page)
    return asked


def test_panel_is_loaded_by_htmx_with_a_reason_on_every_card(page):
    asked = open_item(page)
    assert [r.url for r in asked] == [page.url.rstrip("/") + "/similar"], "the panel should come from one htmx request"
    panel = page.locator("#similar-panel")
    expect(panel.get_by_role("heading", name="Similar to Toy Story")).to_be_visible()
    expect(panel.locator("xpath=ancestor-or-self::*[@aria-live]")).to_have_attribute("aria-live", "polite")
    expect(panel.locator(".card .why")).to_have_count(10)
    for why in panel.locator(".card .why").all():
        expect(why).to_have_text(re.compile(r"\w"))
    expect(panel.locator(".card h3 a").first).to_have_text("Toy Story 2")
    expect(panel.get_by_text("Toy Story", exact=True)).to_have_count(0)  # never the item itself


def test_show_20_updates_only_the_panel_and_pushes_the_url(page):
    open_item(page)
    mark_document(page)
    asked = htmx_requests(page)

    page.get_by_label("Show", exact=True).select_option("20")

    expect(cards(page)).to_have_count(20)
    expect(page).to_have_url(re.compile(r"/items/1/similar\?k=20(&|$)"))
    assert parse_qs(urlsplit(page.url).query)["k"] == ["20"]
    assert_same_document(page)
    assert len(asked) == 1 and "k=20" in asked[0].url
    expect(page.get_by_label("Show", exact=True)).to_have_value("20")


def test_category_filter_keeps_only_items_of_that_category(page):
    open_item(page)
    mark_document(page)

    page.locator("#similar-panel").get_by_label("Animation").check()

    expect(page).to_have_url(re.compile(r"category=Animation"))
    expect(page.locator("#similar-panel").get_by_label("Animation")).to_be_checked()
    expect(cards(page)).to_have_count(10)
    for card in cards(page).all():
        expect(card.locator(".cats")).to_contain_text("Animation")
        expect(card.locator(".why")).to_be_visible()
    expect(page.locator("#similar-panel .panel-head")).to_contain_text("filtered")
    assert_same_document(page)

    page.locator("#similar-panel").get_by_role("link", name="Clear filters").click()
    expect(page.locator("#similar-panel").get_by_label("Animation")).not_to_be_checked()
    expect(cards(page).filter(has_text="Star Wars")).not_to_have_count(0)
    assert_same_document(page)


def test_back_and_forward_restore_the_panel(page):
    open_item(page)
    mark_document(page)
    page.get_by_label("Show", exact=True).select_option("20")
    expect(cards(page)).to_have_count(20)
    wait_settled(page)

    page.go_back()
    expect(page).to_have_url(re.compile(r"/items/1$"))
    expect(cards(page)).to_have_count(10)
    expect(page.get_by_label("Show", exact=True)).to_have_value("10")

    page.go_forward()
    expect(page).to_have_url(re.compile(r"/items/1/similar\?k=20(&|$)"))
    expect(cards(page)).to_have_count(20)
    expect(page.get_by_label("Show", exact=True)).to_have_value("20")
    assert_same_document(page)


def test_a_card_opens_its_item_page(page):
    open_item(page)
    page.locator("#similar-panel .card h3 a").first.click()
    expect(page).to_have_url(re.compile(r"/items/3114$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story 2")
    expect(cards(page)).to_have_count(10)


def test_unknown_item_is_a_clear_404_page(page, problems):
    problems.allow(r"status of 404")
    response = page.goto("/items/no-such-item")
    assert response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("no-such-item")
    expect(page.get_by_role("link", name="Back to search")).to_be_visible()


def test_a_spinner_shows_while_the_panel_updates(page):
    open_item(page)
    spinner = page.locator("#similar-indicator")
    expect(spinner).to_have_css("opacity", "0")
    slow_network(page, 1500)
    page.get_by_label("Show", exact=True).select_option("5")
    expect(spinner).to_have_css("opacity", "1")
    expect(cards(page)).to_have_count(5)
    expect(page.locator("#similar-indicator")).to_have_css("opacity", "0")


def test_year_range_applies_on_enter_without_losing_what_was_typed(page):
    open_item(page)
    mark_document(page)
    asked = htmx_requests(page)
    page.get_by_label("From year").fill("2000")
    page.get_by_label("To year").click()  # leaving a field applies nothing: typing is never swapped away
    page.keyboard.type("2005")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"year_min=2000&year_max=2005"))
    expect(page.get_by_label("From year")).to_have_value("2000")
    expect(page.get_by_label("To year")).to_have_value("2005")
    expect(cards(page)).to_have_count(10)
    for year in cards(page).locator(".meta .year").all_inner_texts():
        assert 2000 <= int(year) <= 2005, year
    assert len(asked) == 1
    assert_same_document(page)

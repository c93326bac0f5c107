"""/items/similar: an item id in, a table of similar items out, in place; by mouse and by keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_same_document, htmx_requests, mark_document

pytestmark = pytest.mark.browser


def rows(page):
    return page.locator("#similar-results tbody tr")


def test_with_the_mouse(page):
    page.goto("/items/similar")
    mark_document(page)
    asked = htmx_requests(page)
    page.get_by_label("Item id").click()
    page.get_by_label("Item id").fill("1")
    page.get_by_role("button", name="Find similar items").click()

    expect(rows(page)).to_have_count(10)
    results = page.locator("#similar-results")
    expect(results.get_by_role("heading")).to_contain_text("Similar to Toy Story")
    expect(rows(page).first.locator("td").nth(0)).to_have_text("3114")
    expect(rows(page).first.locator("td").nth(1)).to_have_text("Toy Story 2")
    for row in rows(page).all():
        expect(row.locator("td").nth(0)).to_have_text(re.compile(r"^\d+$"))
        expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^-?\d\.\d{3}$"))
    assert_same_document(page)
    assert [r.method for r in asked] == ["POST"]
    expect(page).to_have_url(re.compile(r"/items/similar$"))


def test_with_the_keyboard_only(page):
    page.goto("/items/similar")
    mark_document(page)
    page.get_by_label("Item id").focus()
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    expect(page.get_by_label("How many")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Enter")

    expect(rows(page)).to_have_count(5)
    expect(page.locator("#similar-results h2")).to_contain_text("Jumanji")
    assert_same_document(page)
    page.keyboard.press("Shift+Tab")  # the form is still usable from where the focus was
    expect(page.get_by_label("Item id")).to_be_focused()


def test_unknown_id_shows_the_error_in_place(page, problems):
    problems.allow(r"status of 404")
    page.goto("/items/similar")
    mark_document(page)
    page.get_by_label("Item id").fill("nope-404")
    page.get_by_label("Item id").press("Enter")

    alert = page.locator("#similar-results").get_by_role("alert")
    expect(alert).to_contain_text("nope-404")
    expect(alert).to_contain_text("find the item with the search box")
    expect(rows(page)).to_have_count(0)
    assert_same_document(page)

    page.get_by_label("Item id").fill("1")
    page.get_by_label("Item id").press("Enter")
    expect(rows(page)).to_have_count(10)
    expect(page.locator("#similar-results").get_by_role("alert")).to_have_count(0)


def test_empty_id_asks_for_one(page, problems):
    problems.allow(r"status of 400")
    page.goto("/items/similar")
    page.get_by_role("button", name="Find similar items").click()
    expect(page.locator("#similar-results").get_by_role("alert")).to_contain_text("Enter an item id.")

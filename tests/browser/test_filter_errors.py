"""A filter that cannot be used keeps the similar panel's form, with the field marked and the message beside it
(issue 27 item 2), with htmx and without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import assert_same_document, mark_document, wait_settled

pytestmark = pytest.mark.browser


def test_a_reversed_year_range_marks_the_field_and_keeps_the_form(page, problems):
    problems.allow(r"status of 400")
    page.goto("/items/1")
    expect(page.locator("#similar-panel ol.cards > li")).to_have_count(10)
    wait_settled(page)
    mark_document(page)
    page.get_by_label("From year").fill("2010")
    page.get_by_label("To year").fill("1990")
    page.get_by_label("To year").press("Enter")

    to_year = page.get_by_label("To year")
    expect(to_year).to_have_attribute("aria-invalid", "true")
    expect(to_year).to_have_value("1990")
    expect(page.get_by_label("From year")).to_have_value("2010")
    expect(page.get_by_label("From year")).not_to_have_attribute("aria-invalid", "true")
    message = page.locator("#filter-error")
    expect(message).to_contain_text("year_min (2010) is after year_max (1990)")
    assert to_year.get_attribute("aria-describedby") == "filter-error"
    expect(page.get_by_role("link", name="Back to search")).to_have_count(0)
    assert_same_document(page)

    page.get_by_label("From year").fill("1990")
    page.get_by_label("To year").fill("2010")
    page.get_by_label("To year").press("Enter")
    expect(page.locator("#similar-panel ol.cards > li")).to_have_count(10)
    expect(page.locator("#filter-error")).to_have_count(0)
    expect(page.get_by_label("To year")).not_to_have_attribute("aria-invalid", "true")


def test_without_javascript_the_full_page_keeps_the_form_too(page_without_js, problems):
    problems.allow(r"status of 400")
    page = page_without_js
    page.goto("/items/1/similar")
    page.get_by_label("From year").fill("2010")
    page.get_by_label("To year").fill("1990")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"year_min=2010&year_max=1990"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story")
    expect(page.get_by_label("To year")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#filter-error")).to_be_visible()

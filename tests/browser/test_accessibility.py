"""Accessibility basics checked in the rendered pages: labels, live regions, visible focus, contrast."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import sign_in, wait_settled

pytestmark = pytest.mark.browser

# Test-side evaluation (Playwright runs it, the app ships no script): form controls without an accessible name.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length))
  .filter(el => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""

# WCAG contrast of each visible text element's colour against the first opaque background behind it.
LOW_CONTRAST = """(selectors) => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0.9) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const selector of selectors) for (const el of document.querySelectorAll(selector)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const a = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(`${selector} "${el.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`);
  }
  return bad;
}"""
FOCUS_STYLE = """() => { const el = document.activeElement, s = getComputedStyle(el);
  return {tag: el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor}; }"""
TEXT = ["body", "h1", "h2", "h3", "p", "a", "button", "label", "legend", "dt", "dd", "td", "th", "code", "mark",
        ".meta", ".cats", ".year", ".why", ".hint", ".lede", ".tags li", ".state", ".stage", ".pct", ".notice",
        ".errors", ".empty", ".site-header nav a", ".site-footer", ".count"]


def check_page(page) -> None:
    wait_settled(page)
    assert page.evaluate(UNLABELLED) == [], "form controls without a label"
    assert page.evaluate(LOW_CONTRAST, TEXT) == [], "text below 4.5:1 contrast"
    expect(page.locator("main")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate("document.documentElement.lang") == "en"


def test_search_page(page):
    page.goto("/")
    expect(page.get_by_label("Search titles")).to_be_focused()  # autofocus
    expect(page.locator("#results")).to_have_attribute("aria-live", "polite")
    page.keyboard.type("star wars", delay=20)
    expect(page.locator("#results .hits a").first).to_contain_text("Star Wars")
    check_page(page)


def test_item_page(page):
    page.goto("/items/1")
    expect(page.locator("#similar-panel .card")).to_have_count(10)
    for label in ("Show", "From year", "To year", "Exclude ids", "Animation"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.locator("#similar-panel").locator("xpath=..")).to_have_attribute("aria-live", "polite")
    check_page(page)


def test_similar_form_page(page):
    page.goto("/items/similar")
    expect(page.get_by_label("Item id")).to_be_editable()
    expect(page.get_by_label("How many")).to_have_value("10")
    expect(page.locator("#similar-results").locator("xpath=..")).to_have_attribute("aria-live", "polite")
    page.get_by_label("Item id").fill("1")
    page.get_by_label("Item id").press("Enter")
    expect(page.locator("#similar-results tbody tr")).to_have_count(10)
    check_page(page)


def test_admin_pages(page):
    page.goto("/admin/login")
    expect(page.get_by_label("Admin token")).to_be_editable()
    check_page(page)
    sign_in(page)
    for label in ("Items file (CSV or Parquet)", "Interactions file (optional)"):
        expect(page.get_by_label(label)).to_be_attached()
    expect(page.locator("#jobs")).to_have_attribute("aria-live", "polite")
    check_page(page)


def test_focus_is_visible_on_links_buttons_and_fields(page):
    page.goto("/items/similar")
    page.get_by_label("Item id").fill("1")
    page.get_by_label("Item id").press("Enter")
    expect(page.locator("#similar-results tbody tr")).to_have_count(10)
    page.locator(".brand").focus()  # then walk the page with the keyboard
    seen = set()
    for _ in range(12):
        page.keyboard.press("Tab")
        style = page.evaluate(FOCUS_STYLE)
        assert style["style"] != "none" and style["width"] >= 2, f"no visible focus on {style['tag']}: {style}"
        seen.add(style["tag"])
    assert {"A", "INPUT", "BUTTON"} <= seen, seen


def test_skip_link_moves_to_the_main_content(page):
    page.goto("/items/1")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

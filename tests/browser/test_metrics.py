"""Panel metrics in a real browser: viewed panels and clicks through /r/<token> show up on /admin/metrics."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.helpers.browser import sign_in, wait_for_beacon

CLICKS = 3
# Items whose panels no other browser test clicks through: a click token counts once per client, and the
# cached panel of /items/1 hands every visitor the same tokens (test_item_page clicks its first card).
CLICKED_ITEMS = ("4", "5", "6")
METRICS_WAIT_SECONDS = 15  # each gunicorn worker flushes its buffer about once a second


def _clicked_total(page) -> int:
    cells = page.locator("table.version-metrics td.clicks").all_inner_texts()
    return sum(int(c) for c in cells)


def test_clicks_through_the_redirect_show_on_the_metrics_page(page):
    page.goto("/admin/metrics")
    sign_in(page)
    page.goto("/admin/metrics")
    before = _clicked_total(page)
    for item_id in CLICKED_ITEMS[:CLICKS]:
        page.goto(f"/items/{item_id}")
        link = page.locator("#similar-panel .card h3 a").first
        expect(link).to_have_attribute("href", re.compile(r"^/r/"))
        expect(page.locator("#similar-panel img.likewise-beacon")).to_have_count(1)
        wait_for_beacon(page)  # this panel's impression is counted before we click away
        target = link.get_attribute("data-item-id")
        link.click()
        expect(page).to_have_url(re.compile(rf"/items/{re.escape(target)}$"))
        expect(page.locator("#similar-panel .card").first).to_be_visible()  # its panel loaded before we move on
        wait_for_beacon(page)
    deadline = time.monotonic() + METRICS_WAIT_SECONDS
    while True:
        page.goto("/admin/metrics")
        if _clicked_total(page) >= before + CLICKS or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert _clicked_total(page) >= before + CLICKS
    impressions = sum(int(c) for c in page.locator("table.version-metrics td.impressions").all_inner_texts())
    assert impressions >= CLICKS, "each viewed panel's beacon counted an impression"
    expect(page.locator(".ctr-chart")).to_be_visible()  # a table while there is one day of data
    expect(page.locator("#experiment-card")).to_be_visible()

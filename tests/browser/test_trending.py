"""The trending fragment on the home page (issue 24), with and without JavaScript: views sent through the events
API put their item in it, with the count in its why, without a rebuild."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import ADMIN_TOKEN

pytestmark = pytest.mark.browser
VIEWS = 30
ITEM = "1"  # Toy Story in the demo catalog
TRENDING_WITHIN_SECONDS = 15  # the promise: every page shows an event's count this long after it


def send_views(stack) -> float:
    """The views sent, and when their answer came (time.monotonic())."""
    events = [{"user_id": f"browser-viewer-{n}", "item_id": ITEM, "type": "view", "event_id": f"browser-view-{n}"}
              for n in range(VIEWS)]
    request = urllib.request.Request(stack.url("/api/events"), data=json.dumps({"events": events}).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    return time.monotonic()


COUNTED = re.compile(r"\b(?:[3-9]\d|[1-9]\d{2,}) views in the last 24 hours")  # at least VIEWS (30)


def toy_story_card(page):
    """Trending's card of ITEM once its why counts at least the VIEWS sent (other browser tests may have viewed
    it too, and the page may show counts read before the views arrived)."""
    return page.locator("#trending-panel .card").filter(has_text="Toy Story").filter(has_text=COUNTED)


def open_once_counted(page, path: str, sent_at: float):
    """`path` opened once TRENDING_WITHIN_SECONDS have passed since the views were sent: whichever web process
    answers, and whatever the browser kept, the page must count them by then (one load: reloading sooner would
    abort the requests of the page it replaces)."""
    page.wait_for_load_state()  # the page opened before (a link followed) has its requests done
    time.sleep(max(0.0, sent_at + TRENDING_WITHIN_SECONDS - time.monotonic()))
    page.goto(path)
    card = toy_story_card(page)
    expect(card).to_be_visible()
    return card


def test_the_home_page_loads_trending_with_the_viewed_item(page, stack):
    sent_at = send_views(stack)
    card = open_once_counted(page, "/", sent_at)
    expect(page.locator("#trending-panel").get_by_role("heading", name="Trending in the last 24 hours")).to_be_visible()
    expect(card.get_by_role("link")).to_contain_text("Toy Story")
    expect(page.locator("#results").get_by_role("heading", name="Popular items")).to_be_visible()


def test_without_javascript_the_link_opens_trending(page_without_js, stack):
    sent_at = send_views(stack)  # the same event ids: counted once
    page = page_without_js
    page.goto("/")
    expect(page.get_by_text("Finding what is trending")).to_be_hidden()
    page.get_by_role("link", name="See what is trending").click()
    expect(page).to_have_url(re.compile(r"/trending$"))
    open_once_counted(page, "/trending", sent_at)
    page.get_by_role("link", name="1h").click()
    expect(page).to_have_url(re.compile(r"/trending\?window=1h"))
    expect(page.locator("#trending-panel").get_by_role("heading", name="Trending in the last hour")).to_be_visible()

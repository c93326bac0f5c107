"""Admin in a real browser: sign in, upload a catalog, watch the job, see the new index served everywhere.

This replaces the demo catalog, so it runs after the other browser tests (see conftest.py)."""

from __future__ import annotations

import csv
import re
import time

import pytest
from playwright.sync_api import expect

from tests.helpers.browser import (
    assert_same_document,
    htmx_requests,
    mark_document,
    screenshot,
    sign_in,
    wait_settled,
)
from tests.helpers.catalogs import make_catalog

pytestmark = [pytest.mark.browser, pytest.mark.replaces_catalog]
JOB_SECONDS = 90


def watch_progress(job, seconds: float) -> list[int]:
    """The values the job's <progress> shows, read every 100 ms until the job has finished."""
    values: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(r"\bjob-(success|failure)\b", job.get_attribute("class") or ""):
            return values  # a finished job shows its outcome instead of a bar
        value = job.evaluate("li => li.querySelector('progress')?.getAttribute('value') ?? null", timeout=5_000)
        if value is not None and (not values or int(value) != values[-1]):
            values.append(int(value))
        time.sleep(0.1)
    raise TimeoutError(f"the job did not finish within {seconds} s; progress seen: {values}")


def test_upload_a_catalog_and_watch_it_go_live(page, stack):
    files = make_catalog(stack.tmp / "upload", n_items=120)
    with open(files.items, newline="", encoding="utf-8") as handle:
        new_title = next(csv.DictReader(handle))["title"]

    sign_in(page)
    card = page.locator("#index-card")
    old_version = card.locator("dd code").first.inner_text()
    expect(page.locator("#jobs")).to_contain_text("Jobs")  # earlier tests' events may have queued rebuilds
    mark_document(page)
    asked = htmx_requests(page)

    page.get_by_label("Items file (CSV or Parquet)").set_input_files(files.items)
    page.get_by_label("Interactions file (optional)").set_input_files(files.interactions)
    page.get_by_role("button", name="Upload and rebuild").click()

    notice = page.locator("#jobs .notice")
    expect(notice).to_contain_text("Catalog accepted")
    short_id = re.search(r"Job (\w{8})", notice.inner_text()).group(1)
    job = page.locator(f"#jobs li[id^='job-{short_id}']")
    expect(job).to_be_visible()
    seen = watch_progress(job, JOB_SECONDS)

    expect(job).to_have_class(re.compile(r"\bjob-success\b"))
    expect(job.locator(".state")).to_have_text("success")
    expect(job.locator("progress")).to_have_count(0)
    expect(job.locator(".job-outcome")).to_contain_text("Done: version")
    assert seen == sorted(seen), f"progress should only go up: {seen}"
    new_version = job.locator(".job-line code").last.inner_text()
    assert new_version != old_version

    # The finished job's answer says "index-changed"; the index card reloads itself and shows the new version.
    expect(card.locator("dd code").first).to_have_text(new_version)
    expect(card).to_contain_text("120")  # items
    wait_settled(page)
    assert_same_document(page)
    assert any("/admin/index-card?" in r.url for r in asked), "the index card was not refreshed by htmx"
    assert sum(r.method == "POST" for r in asked) == 1
    screenshot(page, "admin-dashboard-desktop")

    page.goto("/")
    mark_document(page)
    page.get_by_label("Search titles").focus()
    page.keyboard.type(new_title, delay=30)
    expect(page.locator("#results .hits a").first).to_contain_text(new_title)
    assert_same_document(page)
    expect(page.locator(".site-footer")).to_contain_text(new_version)


def test_an_invalid_upload_is_explained_in_place(page, stack, problems):
    problems.allow(r"status of 422")
    bad = stack.tmp / "bad-items.csv"
    bad.write_text("item_id,title\n1,One\n1,Duplicate\n2,\n", encoding="utf-8")
    sign_in(page)
    mark_document(page)
    page.get_by_label("Items file (CSV or Parquet)").set_input_files(bad)
    page.get_by_role("button", name="Upload and rebuild").click()
    alert = page.locator("#upload").get_by_role("alert")
    expect(alert).to_contain_text("Not accepted, nothing was changed")
    expect(alert).to_contain_text("bad-items.csv")
    expect(alert).to_contain_text("duplicate")
    assert_same_document(page)
    expect(page.get_by_label("Items file (CSV or Parquet)")).to_be_visible()

"""What the browser tests share besides fixtures: error collection, screenshots, small page checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.helpers.processes import ROOT

ADMIN_TOKEN = "integration-admin-token"  # what tests.helpers.processes.service_env sets
SCREENSHOTS = ROOT / "test-output" / "screenshots"
# A panel's 1x1 view beacon still loading when the visitor clicks away is aborted by the browser, as on any
# real site; that is not an error. Tests that count impressions wait for the beacon (wait_for_beacon).
ABORTED_BEACON = re.compile(r"^request failed: GET \S+/i/[A-Za-z0-9_-]+\.gif: net::ERR_ABORTED$")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Problems:
    """Console errors, uncaught exceptions, failed requests and 5xx answers seen by one page."""

    seen: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)
    navigations: int = 0  # main-frame navigations started so far
    issued_at: dict = field(default_factory=dict)  # request -> navigations when it was issued

    def allow(self, pattern: str) -> None:
        """A test that provokes an error on purpose (a 404, say) names it here."""
        self.allowed.append(re.compile(pattern))

    def add(self, text: str) -> None:
        self.seen.append(text)

    def unexpected(self) -> list[str]:
        return [p for p in self.seen if not any(a.search(p) for a in self.allowed) and not ABORTED_BEACON.search(p)]

    def watch(self, page: Page) -> None:
        page.on("console", lambda m: m.type == "error" and self.add(
            f"console error: {m.text} (at {m.location.get('url', '?')})"))
        page.on("pageerror", lambda exc: self.add(f"uncaught exception: {exc}"))
        page.on("request", lambda r: self._issued(page, r))
        page.on("requestfailed", lambda r: self._failed(r))
        page.on("response", lambda r: r.status >= 500 and self.add(
            f"server error: {r.status} {r.request.method} {r.url}"))

    def _issued(self, page: Page, request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            self.navigations += 1
        self.issued_at[request] = self.navigations

    def _failed(self, request) -> None:
        """A failed request, unless the browser dropped it because the page it belonged to was left (a form
        submitted or a link followed while its stylesheet was still loading): that is the test moving on."""
        left = self.navigations > self.issued_at.get(request, self.navigations)
        if left and "ERR_ABORTED" in (request.failure or "") and not request.is_navigation_request():
            return
        self.add(f"request failed: {request.method} {request.url}: {request.failure}")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", timeout=60_000)  # long pages: the docs
    return path


def htmx_requests(page: Page) -> list:
    """Collects the requests htmx makes (they carry HX-Request) from now on."""
    seen: list = []
    page.on("request", lambda r: r.headers.get("hx-request") == "true" and seen.append(r))
    return seen


def mark_document(page: Page) -> None:
    """A flag on window that a full page load would wipe out (test-side evaluate, not app JavaScript)."""
    page.evaluate("window.__marker = 1")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of updated in place"


def wait_settled(page: Page) -> None:
    """No htmx request in flight (htmx puts .htmx-request on the elements whose request is running)."""
    expect(page.locator(".htmx-request")).to_have_count(0)


def wait_for_beacon(page: Page, timeout_ms: int = 10_000) -> None:
    """The similar panel's lazy view beacon has been fetched (scrolled into view first, as a reader would)."""
    beacon = page.locator("#similar-panel img.likewise-beacon")
    beacon.scroll_into_view_if_needed()
    beacon.evaluate("(img, ms) => img.complete && img.naturalWidth > 0 || new Promise((done, fail) => {"
                    " img.addEventListener('load', done, {once: true});"
                    " img.addEventListener('error', () => fail(new Error('beacon failed')), {once: true});"
                    " setTimeout(() => fail(new Error('beacon not loaded in time')), ms); })", timeout_ms)


def sign_in(page: Page) -> None:
    page.goto("/admin/login")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def slow_network(page: Page, latency_ms: int) -> None:
    """Every request of this page takes at least `latency_ms`, long enough to see loading indicators."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                  "downloadThroughput": -1, "uploadThroughput": -1})

"""The admin's embed snippet on another site, in a real browser: host pages are served from other origins
(other ports on 127.0.0.1). On an origin in LIKEWISE_EMBED_ORIGINS the panel, the live search and the iframe
work with no console error; on any other origin the browser itself refuses them, as it would for a stranger.

These tests run their own gunicorn (one worker) on the browser stack's index, because the allowed origin's
port must be known before the server starts."""

from __future__ import annotations

import functools
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TIMEOUT_MS, _get
from tests.helpers.browser import DESKTOP, Problems, screenshot, sign_in, wait_settled
from tests.helpers.processes import delete_prefixed, redis_server, service_env, start_gunicorn, wait_for

pytestmark = pytest.mark.browser

HOST_PAGE = "host.html"
CORS_REFUSAL = r"blocked by CORS policy"
FRAME_REFUSAL = r"frame-ancestors"
HOST_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>A shop</title><link rel="icon" href="data:,"></head>
<body>
<h1>A shop that embeds Likewise</h1>
{snippet}
<h2>In a frame</h2>
{frame_snippet}
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass


@dataclass
class HostSite:
    """A static site on its own origin, like a shop's server."""

    directory: Path
    server: ThreadingHTTPServer

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}/{path}"


@pytest.fixture(scope="module")
def host_sites(tmp_path_factory):
    """Two host sites: the first is allowed to embed, the second is not."""
    sites = []
    for name in ("allowed", "stranger"):
        directory = tmp_path_factory.mktemp(f"host-{name}")
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
        threading.Thread(target=server.serve_forever, name=f"host-{name}", daemon=True).start()
        sites.append(HostSite(directory, server))
    try:
        yield sites
    finally:
        for site in sites:
            site.server.shutdown()
            site.server.server_close()


@pytest.fixture(scope="module")
def likewise(stack, host_sites):
    """Likewise with only the first host site's origin allowed to embed; the base URL."""
    prefix = f"likewise-embed-{uuid.uuid4().hex[:8]}:"
    with redis_server() as (redis_url, _process):
        env = service_env(stack.data_dir, redis_url, prefix, LIKEWISE_EMBED_ORIGINS=host_sites[0].origin)
        web, base = start_gunicorn(env, stack.logs, workers=1)
        try:
            wait_for(lambda: _get(base + "/readyz") == 200, 30, "the embed gunicorn to load the index")
            yield base
        finally:
            web.stop()
            delete_prefixed(redis_url, prefix)


def open_checked(browser, problems: Problems, **options) -> Page:
    context = browser.new_context(viewport=DESKTOP, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems.watch(page)
    return page


@pytest.fixture(scope="module")
def snippets(browser, likewise) -> tuple[str, str]:
    """The two snippets exactly as /admin shows them for copying."""
    problems = Problems()
    page = open_checked(browser, problems, base_url=likewise)
    try:
        sign_in(page)
        snippet = page.locator("#embed-snippet").text_content()
        frame_snippet = page.locator("#embed-frame-snippet").text_content()
    finally:
        page.context.close()
    assert not problems.unexpected(), problems.unexpected()
    return snippet, frame_snippet


def publish(site: HostSite, snippets: tuple[str, str]) -> str:
    snippet, frame_snippet = snippets
    (site.directory / HOST_PAGE).write_text(HOST_TEMPLATE.format(snippet=snippet, frame_snippet=frame_snippet),
                                            encoding="utf-8")
    return site.url(HOST_PAGE)


def wait_for_problem(page: Page, problems: Problems, pattern: str, also: str = "") -> None:
    """Until the page has logged a matching error (Playwright delivers events only while we call it)."""
    for _ in range(TIMEOUT_MS // 100):
        if any(re.search(pattern, p) and also in p for p in problems.seen):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no {pattern!r} error {also} within {TIMEOUT_MS} ms; saw: {problems.seen}")


def item_link(likewise: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(likewise)}/items/[^/?#]+$")


def tracked_link(likewise: str) -> re.Pattern:
    """A panel card's link: through Likewise's click redirect, which counts the click first."""
    return re.compile(rf"^{re.escape(likewise)}/r/[^/?#]+$")


def test_snippet_on_an_allowed_site_shows_the_panel_search_and_frame(browser, likewise, host_sites, snippets):
    problems = Problems()
    page = open_checked(browser, problems)
    try:
        page.goto(publish(host_sites[0], snippets))
        cards = page.locator(".likewise-similar-box .likewise-card")
        expect(cards).to_have_count(10)
        expect(page.locator(".likewise-similar-box .likewise-heading")).to_contain_text("Similar to")
        expect(cards.locator(".likewise-why")).to_have_count(10)
        for link in cards.locator("a.likewise-link").all():
            expect(link).to_have_attribute("href", tracked_link(likewise))
        expect(page.locator(".likewise-card").first).to_have_css("border-top-style", "solid")  # likewise.css applied

        page.get_by_label("Search titles").press_sequentially("toy sto", delay=60)
        first_hit = page.locator("#likewise-search-results .likewise-hit a").first
        expect(first_hit).to_contain_text("Toy Story")
        expect(first_hit).to_have_attribute("href", f"{likewise}/items/1")
        expect(page).to_have_url(host_sites[0].url(HOST_PAGE))  # live search never left the host page

        frame = page.frame_locator("iframe[title='Similar items']")
        expect(frame.locator(".likewise-card")).to_have_count(10)
        wait_settled(page)
        screenshot(page, "embed-allowed-host")

        title = first_hit.inner_text().splitlines()[0]
        first_hit.click()
        expect(page).to_have_url(f"{likewise}/items/1")
        expect(page.get_by_role("heading", level=1)).to_contain_text(title.strip())
        assert not problems.unexpected(), "the browser saw errors:\n" + "\n".join(problems.unexpected())
    finally:
        page.context.close()


def test_snippet_on_another_site_gets_nothing_and_the_browser_says_why(browser, likewise, host_sites, snippets):
    problems = Problems()
    page = open_checked(browser, problems)
    answered = []
    page.on("response", lambda r: r.url.startswith(likewise) and answered.append(r))
    try:
        page.goto(publish(host_sites[1], snippets))
        wait_for_problem(page, problems, CORS_REFUSAL, "/embed/items/")
        wait_for_problem(page, problems, FRAME_REFUSAL)
        box = page.locator(".likewise-similar-box")
        expect(box.locator(".likewise-card")).to_have_count(0)
        expect(box.get_by_role("link", name="Similar items")).to_have_attribute("href", item_link(likewise))

        page.get_by_label("Search titles").press_sequentially("toy sto", delay=60)
        wait_for_problem(page, problems, CORS_REFUSAL, "/embed/search")
        expect(page.locator("#likewise-search-results .likewise-hit")).to_have_count(0)
        expect(page.frame_locator("iframe[title='Similar items']").locator(".likewise-card")).to_have_count(0)
        screenshot(page, "embed-stranger-host")

        refusals = [p for p in problems.seen if re.search(CORS_REFUSAL, p)]
        assert any(host_sites[1].origin in p and "Access-Control-Allow-Origin" in p for p in refusals), refusals
        assert not any(r.headers.get("access-control-allow-origin") for r in answered)
        problems.allow(CORS_REFUSAL)
        problems.allow(FRAME_REFUSAL)
        problems.allow(r"request failed: (GET|OPTIONS) " + re.escape(likewise) + r"/embed/.*net::ERR_FAILED")
        problems.allow(r"request failed: GET " + re.escape(likewise) + r"/embed/.*frame=1: net::ERR_BLOCKED_BY_RESP")
        problems.allow(r"console error: Failed to load resource: net::ERR_FAILED")
        problems.allow(r"htmx:(sendError|afterRequest)")
        assert not problems.unexpected(), "unexpected errors:\n" + "\n".join(problems.unexpected())
    finally:
        page.context.close()

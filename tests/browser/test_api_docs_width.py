"""/api/docs in Chromium at 390 and 1280 px: never wider than the viewport (long curl lines, paths and
tables wrap), no console or CSP errors. Served by a threaded Werkzeug server of its own (the page reads
only the OpenAPI document, so the demo stack is not needed)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.helpers.apps import make_app
from tests.helpers.browser import DESKTOP, PHONE, Problems, screenshot


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    server = make_server("127.0.0.1", 0, make_app(tmp_path_factory.mktemp("docs-page")), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_api_docs_fit_the_viewport_without_errors(browser, docs_server, viewport):
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = Problems()
    problems.watch(page)
    try:
        page.goto(docs_server + "/api/docs")
        assert page.locator("section.api-operation").count() >= 20
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        widest = page.evaluate("Math.max(...[...document.querySelectorAll('pre, table')]"
                               ".map(e => e.getBoundingClientRect().right))")
        assert widest <= viewport["width"]
        page.goto(docs_server + "/api/docs#postEvents")
        screenshot(page, f"api-docs-{viewport['width']}")
        assert problems.unexpected() == []
    finally:
        context.close()

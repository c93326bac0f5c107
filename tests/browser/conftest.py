"""Real-browser end-to-end tests: the whole stack (Redis, a Celery worker, gunicorn with 2 workers) serving
the demo catalog, driven by one headless Chromium. Every wait is bounded; everything is stopped at the end.

The fixtures are package-scoped, so the stack lives only while tests/browser runs. Tests marked
`replaces_catalog` (the admin upload) run last within this package: after them the demo items are gone.
"""

from __future__ import annotations

import shutil
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.browser import DESKTOP, Problems
from tests.helpers.processes import delete_prefixed, redis_server, service_env, start_gunicorn, start_worker, wait_for

TIMEOUT_MS = 10_000
BUILD_SECONDS = 120
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

expect.set_options(timeout=TIMEOUT_MS)


def pytest_configure(config):
    config.addinivalue_line("markers", "replaces_catalog: uploads a new catalog, so it runs last among browser tests")


def pytest_collection_modifyitems(session, config, items):
    """Within this package's items, move the catalog-replacing tests after the others (keeping them together)."""
    here = Path(__file__).parent
    positions = [i for i, item in enumerate(items) if here in Path(str(item.path)).parents]
    ours = [items[i] for i in positions]
    ordered = sorted(ours, key=lambda item: item.get_closest_marker("replaces_catalog") is not None)
    for i, item in zip(positions, ordered):
        items[i] = item


@dataclass
class Stack:
    base: str
    data_dir: Path
    store: IndexStore
    tmp: Path
    logs: Path

    def url(self, path: str) -> str:
        return self.base + path


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """The demo catalog's first index is built while Redis, the worker and gunicorn start (they do not need it)."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    logs = tmp_path_factory.mktemp("browser-logs")
    demo = prepare_demo_catalog(data_dir / "catalog")
    store = IndexStore(data_dir / "indexes")
    build_error: list[BaseException] = []

    def build():
        try:
            build_and_publish(store, CatalogFiles(demo.items_path, demo.interactions_path))
        except BaseException as exc:  # reported below, in the test thread
            build_error.append(exc)

    builder = threading.Thread(target=build, name="demo-index-build", daemon=True)
    builder.start()
    prefix = f"likewise-browser-{uuid.uuid4().hex[:8]}:"
    worker = web = None
    with redis_server() as (redis_url, _process):
        try:
            env = service_env(data_dir, redis_url, prefix)
            worker = start_worker(env, logs)
            web, base = start_gunicorn(env, logs, workers=2)
            builder.join(BUILD_SECONDS)
            if builder.is_alive():
                raise TimeoutError(f"the demo index was not built within {BUILD_SECONDS} s")
            if build_error:
                raise build_error[0]
            # Both gunicorn workers must serve the index before the first page is asked for.
            wait_for(lambda: all(_get(base + "/readyz") == 200 for _ in range(6)), 30, "gunicorn to load the index")
            yield Stack(base, data_dir, store, tmp_path_factory.mktemp("browser-files"), logs)
        finally:
            for service in (web, worker):
                if service is not None:
                    service.stop()
            delete_prefixed(redis_url, prefix)


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium)", pytrace=False)
    return path


@pytest.fixture(scope="package")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
                                              timeout=30_000)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Browser, stack: Stack, problems: Problems, **context_options) -> Page:
    context = browser.new_context(base_url=stack.base, viewport=context_options.pop("viewport", DESKTOP),
                                  **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems.watch(page)
    return page


@pytest.fixture
def problems() -> Problems:
    return Problems()


def _close_checked(page: Page, problems: Problems) -> None:
    unexpected = problems.unexpected()  # taken before closing, which may abort requests still in flight
    page.context.close()
    assert not unexpected, "the browser saw errors:\n" + "\n".join(unexpected)


@pytest.fixture
def page(browser, stack, problems):
    """A fresh desktop context with JavaScript; fails the test on any console error or failed request."""
    page = new_page(browser, stack, problems)
    yield page
    _close_checked(page, problems)


@pytest.fixture
def page_without_js(browser, stack, problems):
    page = new_page(browser, stack, problems, java_script_enabled=False)
    yield page
    _close_checked(page, problems)


@pytest.fixture
def open_page(browser, stack, problems):
    """Opens more pages (a phone viewport, say), each checked like `page`."""
    pages = []

    def opener(**context_options) -> Page:
        pages.append(new_page(browser, stack, problems, **context_options))
        return pages[-1]
    yield opener
    unexpected = problems.unexpected()
    for p in pages:
        p.context.close()
    assert not unexpected, "the browser saw errors:\n" + "\n".join(unexpected)

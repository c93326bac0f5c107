"""Costly searches cannot take the site down: four of the worst queries at once, sent to a real gunicorn with
two sync workers serving the demo index, all answer, and /healthz answers within a second meanwhile.
(Before search work was bounded, one '㌖' * 200 held a worker for minutes.)"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.processes import delete_prefixed, http_call, redis_server, service_env, start_gunicorn

pytestmark = pytest.mark.integration
PREFIX = f"likewise-search-dos-{uuid.uuid4().hex[:8]}:"
HEALTH_SECONDS = 1.0
SEARCH_TIMEOUT = 20.0  # gunicorn kills a worker after 30 s; the unbounded search took minutes
WORST_QUERIES = [("/search", "㌖" * 200), ("/api/search", "㌖" * 200), ("/search", "ǆ" * 200),
                 ("/api/search", "ﬃ" * 200)]


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """gunicorn (2 sync workers) serving an index of the demo items, on a private Redis key prefix."""
    data_dir = tmp_path_factory.mktemp("dos-data")
    demo = prepare_demo_catalog(tmp_path_factory.mktemp("dos-demo"))
    active = ActiveCatalog(data_dir / "catalog")
    active.replace_with(CatalogFiles(demo.items_path))
    build_and_publish(IndexStore(data_dir / "indexes"), active.files())
    with redis_server() as (url, _process):
        web, base = start_gunicorn(service_env(data_dir, url, PREFIX), tmp_path_factory.mktemp("dos-logs"), workers=2)
        try:
            yield base
        finally:
            web.stop()
            delete_prefixed(url, PREFIX)


def timed_get(base: str, path: str, timeout: float) -> tuple[int | str, float]:
    """Status and seconds of one GET; a timeout or a dropped connection is reported as its error's name."""
    started = time.monotonic()
    try:
        status, _, _ = http_call(base, path, timeout=timeout)
    except OSError as error:
        return type(error).__name__, time.monotonic() - started
    return status, time.monotonic() - started


@pytest.mark.timeout(120)
def test_four_worst_searches_at_once_leave_the_site_answering(demo_site):
    with ThreadPoolExecutor(max_workers=len(WORST_QUERIES)) as pool:
        searches = [pool.submit(timed_get, demo_site, f"{path}?q={quote(query)}", SEARCH_TIMEOUT)
                    for path, query in WORST_QUERIES]
        time.sleep(0.1)  # the searches reach both workers first
        health_status, health_seconds = timed_get(demo_site, "/healthz", HEALTH_SECONDS)
        answers = [future.result() for future in searches]
    assert (health_status, health_seconds < HEALTH_SECONDS) == (200, True), (health_status, health_seconds)
    assert [status for status, _ in answers] == [200] * len(WORST_QUERIES), answers

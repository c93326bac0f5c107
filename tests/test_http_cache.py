"""HTTP caching on the index version: strong ETags, 304s, Cache-Control, the per-process LRU and swaps."""

from __future__ import annotations

import time

import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from web.http_cache import PRIVATE, PUBLIC, CachedAnswer, FragmentCache

HX = {"HX-Request": "true"}
SWAP_WAIT_SECONDS = 30


def public_routes(item_id: str) -> list[tuple[str, dict]]:
    return [
        (f"/items/{item_id}/similar?k=5", HX),
        (f"/items/{item_id}/similar?k=5", {}),
        (f"/items/{item_id}", {}),
        ("/search?q=river", HX),
        ("/search?q=river", {}),
        ("/", {}),
        (f"/api/items/{item_id}", {}),
        (f"/api/items/{item_id}/similar?k=5", {}),
        ("/api/search?q=river", {}),
    ]


@pytest.fixture
def item_id(model) -> str:
    return model.popular(1)[0].item_id


@pytest.fixture
def own_data_dir(tmp_path, small_catalog):
    """A data dir of this test's own, so it can publish a second version without touching others."""
    build_and_publish(IndexStore(tmp_path / "indexes"), small_catalog)
    return tmp_path


def publish_and_wait(app, data_dir, seed: int) -> str:
    """Publish another version of a different catalog and wait until the app's holder serves it."""
    holder = app.extensions["model_holder"]
    old = holder.model.version
    new = build_and_publish(IndexStore(data_dir / "indexes"), make_catalog(data_dir / f"catalog{seed}", seed=seed))
    assert new != old
    deadline = time.monotonic() + SWAP_WAIT_SECONDS
    while holder.model.version != new and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder.model.version == new, "the holder did not swap to the new version in time"
    return new


def test_public_answers_carry_strong_etag_and_public_cache_control(client, item_id):
    for path, headers in public_routes(item_id):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        etag = response.headers.get("ETag", "")
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), (path, etag)
        assert response.headers["Cache-Control"] == PUBLIC, path
        assert "max-age=" in PUBLIC and "stale-while-revalidate=" in PUBLIC and PUBLIC.startswith("public")
        assert response.headers["X-Index-Version"]


def test_if_none_match_is_304_with_empty_body(client, item_id):
    for path, headers in public_routes(item_id):
        first = client.get(path, headers=headers)
        again = client.get(path, headers={**headers, "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, path
        assert again.data == b"", path
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Cache-Control"] == PUBLIC


def test_if_none_match_answers_before_model_work(app, client, item_id, monkeypatch):
    """A matching ETag is answered from the version alone: the similar lookup never runs."""
    first = client.get(f"/api/items/{item_id}/similar?k=5")
    model = app.extensions["model_holder"].model

    def refuse(*args, **kwargs):
        raise AssertionError("model work done for a 304")
    monkeypatch.setattr(model, "get_similar_items", refuse)
    monkeypatch.setattr(model, "get_item", refuse)
    again = client.get(f"/api/items/{item_id}/similar?k=5", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_stale_etag_gets_the_full_answer(client, item_id):
    response = client.get(f"/items/{item_id}/similar", headers={**HX, "If-None-Match": '"not-the-etag"'})
    assert response.status_code == 200 and response.data


def test_etag_differs_between_parameters_and_headers(client, model, item_id):
    other = model.popular(2)[1].item_id
    variants = [
        (f"/items/{item_id}/similar?k=5", HX),
        (f"/items/{item_id}/similar?k=10", HX),
        (f"/items/{other}/similar?k=5", HX),
        (f"/items/{item_id}/similar?k=5", {}),
        (f"/items/{item_id}/similar?k=5", {**HX, "HX-History-Restore-Request": "true"}),
        (f"/items/{item_id}/similar?k=5&category=Drama", HX),
        (f"/api/items/{item_id}/similar?k=5", {}),
        ("/search?q=river", HX),
        ("/search?q=rive", HX),
    ]
    etags = [client.get(path, headers=headers).headers["ETag"] for path, headers in variants]
    assert len(set(etags)) == len(etags)


def test_query_argument_order_does_not_change_the_etag(client, item_id):
    one = client.get(f"/items/{item_id}/similar?k=5&category=Drama", headers=HX)
    two = client.get(f"/items/{item_id}/similar?category=Drama&k=5", headers=HX)
    assert one.headers["ETag"] == two.headers["ETag"] and one.data == two.data


def test_pages_say_what_they_vary_on(client, item_id):
    response = client.get(f"/items/{item_id}/similar?k=5", headers=HX)
    assert {"HX-Request", "HX-History-Restore-Request", "HX-Trigger"} <= set(response.vary)


@pytest.mark.parametrize("path", ["/admin", "/admin/login", "/api/admin/index"])
def test_admin_is_private_no_store(client, path):
    response = client.get(path)
    assert response.headers["Cache-Control"] == PRIVATE, (path, response.status_code)
    assert "ETag" not in response.headers


def test_admin_api_with_token_is_private_no_store(client):
    response = client.get("/api/admin/index", headers={"Authorization": "Bearer test-admin-token"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == PRIVATE and "ETag" not in response.headers


def test_form_with_session_is_private(client):
    response = client.get("/items/similar")
    assert response.headers["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("path", ["/items/nope/similar", "/api/items/nope/similar", "/api/items/1000/similar?k=0",
                                  "/items/1000/similar?k=zz"])
def test_errors_are_not_cached(client, path):
    response = client.get(path, headers=HX)
    assert response.status_code in (400, 404)
    assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers


def test_repeated_answer_comes_from_the_fragment_cache_byte_for_byte(own_data_dir, monkeypatch):
    """On a data dir of its own, and with no reload round between the two requests: it once failed in a full
    run (only there) when the shared data dir's holder swapped, which rightly empties the cache."""
    app = make_app(own_data_dir, RELOAD_INTERVAL_SECONDS=3600)
    client = app.test_client()
    model = app.extensions["model_holder"].model
    item_id = model.popular(1)[0].item_id
    first = client.get(f"/items/{item_id}/similar?k=5", headers=HX)
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    assert app.extensions["model_holder"].model is model and len(app.extensions["http_cache"]) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("the cached answer was rendered again")
    monkeypatch.setattr(model, "get_similar_items", refuse)
    again = client.get(f"/items/{item_id}/similar?k=5", headers=HX)
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers.get("HX-Push-Url") == first.headers.get("HX-Push-Url")
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


def test_fragment_cache_is_bounded_in_bytes(small_catalog, own_data_dir):
    app = make_app(own_data_dir, HTTP_CACHE_MAX_BYTES=20_000)
    client = app.test_client()
    model = app.extensions["model_holder"].model
    cache = app.extensions["http_cache"]
    ids = [item.item_id for item in model.popular(40)]
    sizes = []
    for item_id in ids:
        response = client.get(f"/items/{item_id}/similar?k=10", headers=HX)
        assert response.status_code == 200
        sizes.append(len(response.data))
        assert cache.bytes <= 20_000
    assert sum(sizes) > 2 * 20_000, "the test must overflow the bound to test it"
    assert 0 < len(cache) < len(ids)


def test_lru_drops_least_recently_used_first():
    cache = FragmentCache(max_bytes=3 * (100 + 256))
    cache.swapped("v1")
    answer = CachedAnswer(200, (), b"x" * 100)
    for key in "abc":
        assert cache.put("v1", key, answer)
    assert cache.get("v1", "a") is not None  # a is now the most recently used
    cache.put("v1", "d", answer)
    assert cache.get("v1", "b") is None and cache.get("v1", "a") is not None
    assert cache.bytes == 3 * answer.size
    assert not cache.put("v1", "huge", CachedAnswer(200, (), b"x" * 10_000))
    assert not cache.put("v0", "e", answer), "an answer of a version no longer served is not kept"


def test_swap_changes_etag_drops_cache_and_serves_no_stale_body(small_catalog, own_data_dir):
    app = make_app(own_data_dir)
    client = app.test_client()
    holder = app.extensions["model_holder"]
    cache = app.extensions["http_cache"]
    before_version = holder.model.version
    paths = [("/api/items/1000/similar?k=5", {}), ("/items/1000/similar?k=5", HX), ("/search?q=river", HX)]
    before = {path: client.get(path, headers=headers) for path, headers in paths}
    assert len(cache) == len(paths) and cache.version == before_version

    after_version = publish_and_wait(app, own_data_dir, seed=11)
    assert len(cache) == 0, "the swap empties the fragment cache"
    for path, headers in paths:
        old = before[path]
        revalidated = client.get(path, headers={**headers, "If-None-Match": old.headers["ETag"]})
        assert revalidated.status_code == 200, "an old ETag must not be confirmed after a swap"
        assert revalidated.headers["ETag"] != old.headers["ETag"]
        assert revalidated.headers["X-Index-Version"] == after_version
        assert before_version.encode() not in revalidated.data
    body = client.get("/api/items/1000/similar?k=5").get_json()
    assert body["index_version"] == after_version

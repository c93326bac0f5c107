"""Issue 23 (low): HTTP edges. `If-None-Match: *` is answered only after the request is validated, every
answer under /api/admin/ (and /admin) is `private, no-store`, errors included, and every 405 says `Allow`."""

from __future__ import annotations

import pytest

from tests.helpers.live_app import ADMIN_HEADERS, refresh_removed
from web.http_cache import PRIVATE

pytest_plugins = ["tests.helpers.live_app"]  # its fixtures: live_app (SQLite and PostgreSQL), api

ANY = {"If-None-Match": "*"}
KNOWN = "1000"


@pytest.mark.parametrize("path, status", [("/api/items/no-such-item/similar", 404), ("/api/items/no-such-item", 404),
                                          ("/items/no-such-item/similar", 404), ("/embed/items/no-such/similar", 404),
                                          (f"/api/items/{KNOWN}/similar?k=0", 400), (f"/items/{KNOWN}?k=abc", 400),
                                          (f"/embed/items/{KNOWN}/similar?frame=2", 400)])
def test_any_etag_is_no_304_for_what_does_not_exist_or_is_refused(api, path, status):
    for _ in range(2):  # the second time past the fragment cache too
        assert api.get(path, headers=ANY).status_code == status, path


def test_any_etag_is_no_304_for_a_deleted_item(api, live_app):
    path = f"/api/items/{KNOWN}/similar"
    for _ in range(2):  # asked, then from the fragment cache: the answer exists
        assert api.get(path, headers=ANY).status_code == 304 and api.get(path, headers=ANY).data == b""
    api.put(f"/api/admin/items/{KNOWN}", json={"title": "Known"}, headers=ADMIN_HEADERS)
    assert api.delete(f"/api/admin/items/{KNOWN}", headers=ADMIN_HEADERS).status_code == 204
    refresh_removed(live_app)
    assert api.get(path, headers=ANY).status_code == 404
    assert api.get(f"/api/items/{KNOWN}", headers=ANY).status_code == 404


def admin_answers(api) -> list[tuple[str, object]]:
    api.put("/api/admin/items/stored-1", json={"title": "Stored"}, headers=ADMIN_HEADERS)
    return [("stored item", api.get("/api/admin/items/stored-1", headers=ADMIN_HEADERS)),
            ("unknown item", api.get("/api/admin/items/none-such", headers=ADMIN_HEADERS)),
            ("bad item id", api.get("/api/admin/items/" + "x" * 300, headers=ADMIN_HEADERS)),
            ("metrics", api.get("/api/admin/metrics", headers=ADMIN_HEADERS)),
            ("bad since", api.get("/api/admin/metrics?since=never", headers=ADMIN_HEADERS)),
            ("no token", api.get("/api/admin/metrics")),
            ("experiment", api.get("/api/admin/experiments/none-such", headers=ADMIN_HEADERS)),
            ("no such route", api.get("/api/admin/none-such", headers=ADMIN_HEADERS)),
            ("wrong method", api.patch("/api/admin/items/stored-1", headers=ADMIN_HEADERS)),
            ("415", api.put("/api/admin/items/stored-1", data="{}", content_type="text/plain", headers=ADMIN_HEADERS)),
            ("metrics page", api.get("/admin/metrics"))]


def test_every_admin_answer_is_private_no_store(api):
    for what, response in admin_answers(api):
        assert response.headers.get("Cache-Control") == PRIVATE, (what, response.status_code)
        assert "ETag" not in response.headers, what


@pytest.mark.parametrize("method, path", [("TRACE", "/api/items/1000"), ("TRACE", "/"), ("DELETE", "/api/items/1000"),
                                          ("POST", "/healthz"), ("PUT", "/embed/items/1000/similar"),
                                          ("PATCH", "/api/admin/items/1000"), ("TRACE", "/api/admin/metrics"),
                                          ("GET", "/api/events"), ("TRACE", "/static/likewise.css")])
def test_every_405_says_which_methods_are_allowed(api, method, path):
    response = api.open(path, method=method, headers=ADMIN_HEADERS)
    assert response.status_code == 405, (method, path)
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed and method not in allowed, (method, path, response.headers.get("Allow"))

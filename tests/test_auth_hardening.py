"""Issue 11 (medium): failed token attempts are throttled across processes, sessions carry no token
material and end on logout, production refuses short secrets (see test_security)."""

from __future__ import annotations

import hashlib

import fakeredis
import pytest
from flask.sessions import SecureCookieSessionInterface

from tests.helpers.apps import make_app
from tests.test_admin import csrf_from, sign_in, text
from worker.queue import JobQueue


def app_on(server: fakeredis.FakeServer, data_dir, celery_app):
    """One web process: its own app, sharing Redis (the fake server) with the others."""
    app = make_app(data_dir, REDIS_URL="redis://shared")
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(server=server, decode_responses=True), celery_app, "t:")
    return app


@pytest.fixture
def two_processes(built_data_dir, celery_app):
    server = fakeredis.FakeServer()
    return app_on(server, built_data_dir, celery_app), app_on(server, built_data_dir, celery_app)


def api_call(app, token: str, address: str):
    return app.test_client().post("/api/admin/rebuild", headers={"Authorization": f"Bearer {token}"},
                                  environ_base={"REMOTE_ADDR": address})


def test_wrong_bearer_tokens_are_throttled_across_processes(two_processes):
    first, second = two_processes
    attempts = [api_call(first if i % 2 else second, f"guess-{i}", "10.9.9.9").status_code for i in range(5)]
    assert attempts == [401] * 5
    assert api_call(first, "guess-again", "10.9.9.9").status_code == 429
    assert api_call(second, "guess-again", "10.9.9.9").status_code == 429, "the count is per process"
    blocked = api_call(second, "guess-again", "10.9.9.9")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    right = api_call(second, first.extensions["settings"].admin_token, "10.9.9.9")
    assert right.status_code == 202, "the right token is compared first: never locked out by failures"


def test_the_right_token_is_never_locked_out_by_someone_elses_failures(two_processes):
    first, second = two_processes
    for i in range(20):
        api_call(first, f"guess-{i}", "10.6.6.6")
    assert api_call(second, first.extensions["settings"].admin_token, "10.1.1.1").status_code == 202


def session_cookie_content(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "no session cookie"
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie.value)


def test_session_cookie_carries_no_token_material(two_processes):
    app, _ = two_processes
    client = app.test_client()
    sign_in(client, app)
    content = session_cookie_content(app, client)
    token = app.extensions["settings"].admin_token
    digests = {hashlib.sha256(token.encode()).hexdigest(), hashlib.sha1(token.encode()).hexdigest()}
    flat = repr(content)
    assert token not in flat
    assert not any(d[:12] in flat for d in digests), content
    assert set(content) <= {"admin_session", "csrf_token", "_permanent"}, content


def test_a_replayed_cookie_opens_nothing_after_logout(two_processes):
    first, second = two_processes
    client = first.test_client()
    sign_in(client, first)
    stolen = client.get_cookie(first.config["SESSION_COOKIE_NAME"]).value
    replay = second.test_client()
    replay.set_cookie(first.config["SESSION_COOKIE_NAME"], stolen)
    assert replay.get("/admin").status_code == 200, "a session opened in one process is valid in every process"
    logout = client.post("/admin/logout", data={"csrf_token": csrf_from(client, "/admin")})
    assert logout.status_code == 302
    again = second.test_client()
    again.set_cookie(first.config["SESSION_COOKIE_NAME"], stolen)
    response = again.get("/admin")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"], text(response)


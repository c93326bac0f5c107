"""Issue 23, item 2: the client address is proxy-aware (LIKEWISE_TRUSTED_PROXIES), the admin and ingest
tokens are throttled in separate buckets, and a correct token is never refused for other requests' failures.

Before: behind the compose proxy every client had the proxy's address, so 10 token-less requests gave a
correct-token ingest client 69 × 429 of 75."""

from __future__ import annotations

import json
import uuid

import fakeredis
import pytest

from recommender.limits import LOGIN_ATTEMPTS
from recommender.settings import ConfigError, settings_from_env
from tests.helpers.apps import make_app
from tests.helpers.processes import delete_prefixed, http_call, redis_server, service_env, start_gunicorn
from web.client_address import forwarded_client
from worker.queue import JobQueue

PROXY = "10.0.0.1"
INGEST = "test-ingest-token-" + "i" * 20
EVENT = json.dumps({"events": [{"user_id": "u-1", "item_id": "1000", "type": "view"}]})


@pytest.mark.parametrize("remote, lines, trusted, expected", [
    ("10.0.0.1", ["203.0.113.7"], 0, "10.0.0.1"),
    ("10.0.0.1", ["203.0.113.7"], 1, "203.0.113.7"),
    ("10.0.0.1", ["6.6.6.6, 203.0.113.7"], 1, "203.0.113.7"),
    ("10.0.0.1", ["6.6.6.6", "203.0.113.7"], 1, "203.0.113.7"),
    ("10.0.0.1", ["203.0.113.7, 10.0.0.9"], 2, "203.0.113.7"),
    ("10.0.0.1", [], 1, "10.0.0.1"),
    ("10.0.0.1", ["203.0.113.7"], 2, "10.0.0.1"),
    ("10.0.0.1", ["not-an-address"], 1, "10.0.0.1"),
    ("10.0.0.1", ["2001:DB8::1"], 1, "2001:db8::1"),
    (None, [], 0, "?"),
])
def test_the_client_is_the_entry_the_last_trusted_proxy_wrote(remote, lines, trusted, expected):
    assert forwarded_client(remote, lines, trusted) == expected


def test_trusted_proxies_is_read_from_the_environment_and_checked(tmp_path):
    env = {"LIKEWISE_DATA_DIR": str(tmp_path)}
    assert settings_from_env(env).trusted_proxies == 0
    assert settings_from_env(env | {"LIKEWISE_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    for bad in ("-1", "one", "11"):
        with pytest.raises(ConfigError, match="LIKEWISE_TRUSTED_PROXIES"):
            settings_from_env(env | {"LIKEWISE_TRUSTED_PROXIES": bad})


@pytest.fixture
def proxied_app(built_data_dir, celery_app):
    """One web process behind one proxy, its failed-attempt counts in a fake shared Redis."""
    app = make_app(built_data_dir, REDIS_URL="redis://shared", INGEST_TOKEN=INGEST, trusted_proxies=1)
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(decode_responses=True), celery_app, "t:")
    return app


def through_proxy(app, path: str, client: str, token: str | None, body: str | None = EVENT):
    """A POST as nginx forwards it: from the proxy's address, the client in X-Forwarded-For."""
    headers = {"X-Forwarded-For": client, "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().post(path, data=body, headers=headers, environ_base={"REMOTE_ADDR": PROXY})


def test_behind_the_proxy_one_guesser_does_not_throttle_other_clients(proxied_app):
    failures = [through_proxy(proxied_app, "/api/events", "198.51.100.6", None).status_code for _ in range(10)]
    assert failures[:LOGIN_ATTEMPTS] == [401] * LOGIN_ATTEMPTS and set(failures[LOGIN_ATTEMPTS:]) == {429}
    other = [through_proxy(proxied_app, "/api/events", "198.51.100.7", "wrong").status_code for _ in range(2)]
    assert other == [401, 401], "another client behind the same proxy has its own count"
    good = [through_proxy(proxied_app, "/api/events", "198.51.100.8", INGEST).status_code for _ in range(20)]
    assert good == [202] * 20


def test_a_correct_token_passes_even_from_an_address_with_too_many_failures(proxied_app):
    for _ in range(LOGIN_ATTEMPTS * 2):
        through_proxy(proxied_app, "/api/events", "198.51.100.6", "guess")
    assert through_proxy(proxied_app, "/api/events", "198.51.100.6", "guess").status_code == 429
    assert through_proxy(proxied_app, "/api/events", "198.51.100.6", INGEST).status_code == 202
    assert through_proxy(proxied_app, "/api/admin/rebuild", "198.51.100.6", "test-admin-token",
                         body=None).status_code == 202
    again = through_proxy(proxied_app, "/api/events", "198.51.100.6", "guess")
    assert again.status_code == 429 and again.headers["Retry-After"], "a success does not reset the guesser's count"


def test_admin_and_ingest_failures_are_counted_in_separate_buckets(proxied_app):
    for _ in range(LOGIN_ATTEMPTS):
        through_proxy(proxied_app, "/api/admin/rebuild", "198.51.100.6", "guess", body=None)
    assert through_proxy(proxied_app, "/api/admin/rebuild", "198.51.100.6", "guess", body=None).status_code == 429
    assert through_proxy(proxied_app, "/api/events", "198.51.100.6", "guess").status_code == 401


@pytest.fixture(scope="module")
def gunicorn_behind_proxy(tmp_path_factory, built_data_dir):
    """Real gunicorn and Redis, as the compose stack runs them: LIKEWISE_TRUSTED_PROXIES=1."""
    prefix = f"likewise-identity-{uuid.uuid4().hex[:8]}:"
    with redis_server() as (url, _process):
        env = service_env(built_data_dir, url, prefix, INGEST_TOKEN=INGEST, LIKEWISE_TRUSTED_PROXIES=1,
                          DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('identity-db') / 'store.db'}")
        web, base = start_gunicorn(env, tmp_path_factory.mktemp("identity-logs"), workers=2)
        try:
            yield base
        finally:
            web.stop()
            delete_prefixed(url, prefix)


def post_event(base: str, client: str, token: str | None) -> int:
    headers = {"X-Forwarded-For": client, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http_call(base, "/api/events", "POST", EVENT.encode(), headers)[0]


@pytest.mark.integration
def test_correct_ingest_client_keeps_getting_202_while_another_fails_50_times(gunicorn_behind_proxy):
    statuses = {"failing": [], "correct": []}
    for _ in range(50):
        statuses["failing"].append(post_event(gunicorn_behind_proxy, "198.51.100.66", None))
        statuses["correct"].append(post_event(gunicorn_behind_proxy, "198.51.100.77", INGEST))
    assert statuses["correct"] == [202] * 50
    assert statuses["failing"][:LOGIN_ATTEMPTS] == [401] * LOGIN_ATTEMPTS
    assert set(statuses["failing"][LOGIN_ATTEMPTS:]) == {429}, "the guesser is throttled across both processes"
    assert post_event(gunicorn_behind_proxy, "198.51.100.66", INGEST) == 202

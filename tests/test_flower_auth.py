"""Flower's basic auth is throttled per client in the Redis counter the web tier uses (issue 11, item 4).

v1 accepted 200 wrong basic-auth guesses in 1.7 s: Flower is a separate Tornado app, outside the web
tier's limiter."""

from __future__ import annotations

import base64
import types
import urllib.error
import urllib.request
import uuid

import fakeredis
import pytest
import redis
import tornado.web

from recommender.limits import LOGIN_ATTEMPTS
from tests.helpers.processes import BIN, Service, delete_prefixed, free_port, redis_server, service_env, wait_for
from worker.attempts import FailedAttempts
from worker.flower import throttled

GOOD = "admin:" + "g" * 40


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def flower_check(handler):
    """Flower's own check, reduced: 401 unless the header carries GOOD."""
    if handler.request.headers.get("Authorization") != basic(GOOD):
        raise tornado.web.HTTPError(401)
    return True


def handler(client: str, authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    sent = {}
    return types.SimpleNamespace(request=types.SimpleNamespace(remote_ip=client, headers=headers),
                                 set_header=sent.__setitem__, sent=sent)


@pytest.fixture
def check():
    server = fakeredis.FakeRedis(decode_responses=True)
    return throttled(flower_check, FailedAttempts(lambda: server, lambda: "t:"))


def status(check, request) -> int:
    try:
        check(request)
    except tornado.web.HTTPError as error:
        return error.status_code
    return 200


def test_guesses_beyond_the_limit_are_refused_even_with_the_right_password(check):
    codes = [status(check, handler("10.0.0.9", basic(f"admin:guess{i}"))) for i in range(LOGIN_ATTEMPTS)]
    assert codes == [401] * LOGIN_ATTEMPTS
    blocked = handler("10.0.0.9", basic(GOOD))
    assert status(check, blocked) == 429
    assert blocked.sent.get("Retry-After")


def test_someone_elses_failures_never_lock_out_the_right_password(check):
    for i in range(LOGIN_ATTEMPTS * 2):
        status(check, handler("10.0.0.9", basic(f"admin:guess{i}")))
    assert status(check, handler("10.0.0.10", basic(GOOD))) == 200


def test_a_request_without_credentials_is_not_a_guess(check):
    codes = [status(check, handler("10.0.0.9", None)) for _ in range(LOGIN_ATTEMPTS * 2)]
    assert codes == [401] * (LOGIN_ATTEMPTS * 2)
    assert status(check, handler("10.0.0.9", basic(GOOD))) == 200


def get(url: str, authorization: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_real_flower_refuses_a_guesser_and_counts_in_the_shared_redis(tmp_path):
    prefix = f"likewise-test-flower-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    with redis_server() as (url, _process):
        env = service_env(tmp_path, url, prefix, FLOWER_BASIC_AUTH=GOOD)
        flower = Service("flower", [str(BIN / "python"), "-m", "worker.flower",
                                    f"--port={port}", "--address=127.0.0.1"], env, tmp_path)
        try:
            home = f"http://127.0.0.1:{port}/"
            wait_for(lambda: get(home) == 401 or not flower.alive(), 60, "Flower")
            assert flower.alive(), flower.log()[-3000:]
            assert get(home, basic(GOOD)) == 200
            guesses = [get(home, basic(f"admin:guess{i}")) for i in range(LOGIN_ATTEMPTS + 3)]
            assert guesses == [401] * LOGIN_ATTEMPTS + [429] * 3, flower.log()[-2000:]
            assert get(home, basic(GOOD)) == 429
            assert int(redis.Redis.from_url(url).get(f"{prefix}failed-auth:admin:127.0.0.1")) == LOGIN_ATTEMPTS
        finally:
            flower.stop()
            delete_prefixed(url, prefix)

"""`python -m worker.flower [flower options]`: Flower, with its basic auth taken from the environment
and failed guesses throttled.

Flower reads FLOWER_BASIC_AUTH itself, so the credentials never appear on a command line where
`ps` shows them to every local user. Flower shows task arguments and can revoke jobs, so it refuses
to start without them. Wrong credentials count against the client's address in the same Redis
counter as the web tier's sign-in (worker.attempts): after LOGIN_ATTEMPTS failures in a window the
client gets 429 until the window ends, whatever it sends. Requests without credentials (a browser's
first request, before it asks for them) are not counted.
"""

from __future__ import annotations

import os
import sys

import tornado.web

from recommender.settings import settings_from_env
from worker.attempts import FailedAttempts
from worker.queue import redis_client

AUTH_VARIABLE = "FLOWER_BASIC_AUTH"


def auth_problem(value: str | None) -> str | None:
    """Why the credentials cannot be used, or None when they can."""
    if not value:
        return f"{AUTH_VARIABLE} is required (user:password): Flower is never served without auth"
    pairs = value.split(",")
    if any(":" not in pair or not pair.split(":", 1)[0] or not pair.split(":", 1)[1] for pair in pairs):
        return f"{AUTH_VARIABLE} must be user:password (several separated by commas)"
    return None


def throttled(get_current_user, attempts: FailedAttempts):
    """Flower's credential check, refusing a client with too many recent failures before comparing."""
    def checked(handler):
        client = handler.request.remote_ip or "?"
        if attempts.blocked(client):
            handler.set_header("Retry-After", str(attempts.window))
            raise tornado.web.HTTPError(429, "too many failed attempts from this address")
        try:
            return get_current_user(handler)
        except tornado.web.HTTPError as error:
            if error.status_code == 401 and handler.request.headers.get("Authorization"):
                attempts.failed(client)
            raise
    return checked


def failed_attempts(environ=os.environ) -> FailedAttempts:
    """The counter in the job queue's Redis, under this deployment's key prefix."""
    settings = settings_from_env(environ)
    client = redis_client(settings.redis_url) if settings.redis_url else None
    return FailedAttempts(lambda: client, lambda: settings.redis_prefix)


def install_throttle(attempts: FailedAttempts) -> None:
    """Every Flower page and API handler inherits BaseHandler's check, so wrapping it covers them all."""
    from flower.views import BaseHandler

    BaseHandler.get_current_user = throttled(BaseHandler.get_current_user, attempts)


def main(argv: list[str]) -> int:
    problem = auth_problem(os.environ.get(AUTH_VARIABLE))
    if problem:
        print(f"Cannot start Flower: {problem}", file=sys.stderr)
        return 2
    install_throttle(failed_attempts())
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "--app", "worker.celery_app", "flower", *argv]
    return celery_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

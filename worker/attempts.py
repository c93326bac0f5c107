"""Failed-attempt counting per client, shared by every process through Redis.

Used by the web tier's sign-in and token checks and by Flower's basic auth, so a guesser cannot get
more tries by spreading them over gunicorn workers or over Flower. When Redis is not configured or
cannot be reached, each process counts on its own: a guess is still slowed, and a correct sign-in
never fails because the counter is down.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Callable

import redis

from recommender.limits import LOGIN_ATTEMPTS, LOGIN_WINDOW_SECONDS

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
ADMIN_BUCKET = "admin"  # the admin token: sign-in form, admin API and Flower's basic auth


class LocalCounter:
    """Failures in the last window, in this process only."""

    def __init__(self, window: float):
        self.window = window
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def count(self, key: str, add: bool = False) -> int:
        now = time.monotonic()
        with self._lock:
            failures = self._failures[key]
            while failures and now - failures[0] > self.window:
                failures.popleft()
            if add:
                failures.append(now)
            return len(failures)

    def clear(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._failures.clear()
            else:
                self._failures.pop(key, None)


class FailedAttempts:
    """At most `attempts` failures per client per window, counted across processes.

    `shared` returns the Redis to count in (or None: count locally); `prefix` returns the key prefix.
    Both are called per check, so a web app's settings can be read from its context. `bucket` names
    what is guessed (the admin token, the ingest token): failures at one never block the other."""

    def __init__(self, shared: Callable[[], redis.Redis | None], prefix: Callable[[], str],
                 attempts: int = LOGIN_ATTEMPTS, window: int = LOGIN_WINDOW_SECONDS, bucket: str = ADMIN_BUCKET):
        self.shared, self.prefix, self.bucket = shared, prefix, bucket
        self.attempts = attempts
        self.window = window
        self.local = LocalCounter(window)

    def _key(self, client: str) -> str:
        return f"{self.prefix()}failed-auth:{self.bucket}:{client}"

    def _shared_count(self, client: str, add: bool) -> int | None:
        client_redis = self.shared()
        if client_redis is None:
            return None
        try:
            if not add:
                return int(client_redis.get(self._key(client)) or 0)
            pipe = client_redis.pipeline()
            pipe.set(self._key(client), 0, ex=self.window, nx=True)
            pipe.incr(self._key(client))
            return int(pipe.execute()[1])
        except REDIS_ERRORS:
            return None

    def _count(self, client: str, add: bool) -> int:
        shared = self._shared_count(client, add)
        return self.local.count(client, add) if shared is None else shared

    def blocked(self, client: str) -> bool:
        return self._count(client, add=False) >= self.attempts

    def failed(self, client: str) -> None:
        self._count(client, add=True)

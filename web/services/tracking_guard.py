"""Each beacon and click token counts at most once, and each client only so fast (issue 23, item 4).

A beacon or click link replayed 300 times counted 300 times, and its clicks became events the next build
learns from. Now a token's impression (for a click: its card) is marked per client address in Redis with
SET NX, kept as long as the token can still be valid, so the first request from that address in any web
process counts and every later one does not; and an address counts at most a limit a minute. One
pipeline, one round trip.

Why per address and not per token alone: a panel is HTTP-cached (and kept in each process's fragment
cache), so one rendered token is shown to every visitor of that item until the next version; counting it
once would count one view for all of them. The address is what a client cannot make up (the visitor id
can be: it is a cookie or a parameter); an IPv6 client counts as its /64, which one host may hold whole.
Visitors behind one address who see the same cached panel count once.

Without Redis (not configured, or down: it is retried after REDIS_RETRY_SECONDS) each process remembers
on its own, in bounded memory: a replay answered by another process may count once more there. Counting
never fails a request and never waits on a Redis that is known to be down.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from typing import Callable

import redis

from recommender.limits import TRACKING_RATE_WINDOW_SECONDS
from recommender.metrics.tokens import TOKEN_FUTURE_LEEWAY_SECONDS, TOKEN_MAX_AGE_SECONDS
from worker.attempts import REDIS_ERRORS

SEEN_SECONDS = TOKEN_MAX_AGE_SECONDS + TOKEN_FUTURE_LEEWAY_SECONDS  # the longest a token stays valid
REDIS_RETRY_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25  # a beacon or a redirect waits at most this long for Redis, then counts locally
LOCAL_KEYS_MAX = 100_000
IPV6_CLIENT_PREFIX = 64


def client_key(address: str) -> str:
    """The address a tracking limit counts against: an IPv4 address, or an IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))


class LocalMarks:
    """Keys with an expiry, in this process only; past `max_keys` the oldest are forgotten."""

    def __init__(self, max_keys: int = LOCAL_KEYS_MAX, clock: Callable[[], float] = time.monotonic):
        self.max_keys, self.clock = max_keys, clock
        self._keys: OrderedDict[str, list] = OrderedDict()  # key -> [expires at, count]
        self._lock = threading.Lock()

    def add(self, key: str, ttl: float) -> int:
        """Count one more for `key` (a new window when the last one expired); returns the count."""
        now = self.clock()
        with self._lock:
            entry = self._keys.get(key)
            if entry is None or entry[0] <= now:
                entry = self._keys[key] = [now + ttl, 0]
                self._keys.move_to_end(key)
            entry[1] += 1
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return entry[1]


def redis_for(url: str) -> redis.Redis | None:
    """A client of its own with short timeouts (the job queue's waits seconds), or None without a URL."""
    if not url:
        return None
    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_timeout=REDIS_TIMEOUT_SECONDS, decode_responses=True)


class TrackingGuard:
    """Decides whether a tracking request counts: its token's first time, its client within the rate.

    `shared` returns the Redis to mark in (or None), `prefix` the key prefix; both are read per call."""

    def __init__(self, shared: Callable[[], redis.Redis | None], prefix: Callable[[], str],
                 clock: Callable[[], float] = time.monotonic):
        self.shared, self.prefix, self.clock = shared, prefix, clock
        self.local = LocalMarks(clock=clock)
        self._redis_down_until = 0.0

    def should_count(self, kind: str, token_key: str, client: str, per_minute: int) -> bool:
        """True when `token_key` (of this `kind`) was never counted for `client`, and `client` is within
        `per_minute`."""
        client = client_key(client)
        seen_key = f"{self.prefix()}tracked:{kind}:{token_key}:{client}"
        rate_key = f"{self.prefix()}track-rate:{kind}:{client}"
        shared = self._shared_answer(seen_key, rate_key)
        if shared is None:
            first = self.local.add(seen_key, SEEN_SECONDS) == 1
            rate = self.local.add(rate_key, TRACKING_RATE_WINDOW_SECONDS)
        else:
            first, rate = shared
        return first and rate <= per_minute

    def _shared_answer(self, seen_key: str, rate_key: str) -> tuple[bool, int] | None:
        """(first time, requests in the window) from Redis, or None when it is not there to ask."""
        client = self.shared() if self.clock() >= self._redis_down_until else None
        if client is None:
            return None
        try:
            pipe = client.pipeline(transaction=False)
            pipe.set(seen_key, 1, ex=SEEN_SECONDS, nx=True)
            pipe.set(rate_key, 0, ex=TRACKING_RATE_WINDOW_SECONDS, nx=True)
            pipe.incr(rate_key)
            first, _, rate = pipe.execute()
        except REDIS_ERRORS:
            self._redis_down_until = self.clock() + REDIS_RETRY_SECONDS
            return None
        return bool(first), int(rate)

"""Which version each web process serves, reported to Redis, so a switch can wait until all agree.

Every process's index watcher reports its served version under its own key with a short expiry
(a process that stops or hangs drops out by itself), with the time its round began: the round read
`current` and the removed-items list after that moment. A rollback, a publish or a promotion answers
once every reporting process names the new version from a round that began after the switch was
committed, so "served" (the version and the catalog state that goes with it) means served everywhere
when the admin call returns. Without Redis there is nothing to ask and the call answers as before.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import redis

from recommender.limits import SERVED_AGREEMENT_WAIT_SECONDS, SERVING_REPORT_SECONDS

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Agreement:
    """What the reporting processes serve once a switch to `version` was waited for."""

    version: str
    serving: dict[str, str]  # process -> version it serves
    waited: float

    @property
    def agreed(self) -> bool:
        return all(served == self.version for served in self.serving.values())

    def as_dict(self) -> dict:
        counts = Counter(self.serving.values())
        return {"agreed": self.agreed, "processes": len(self.serving), "versions": dict(counts),
                "waited_seconds": round(self.waited, 3)}


def process_name() -> str:
    """Host and pid: unique across the containers and gunicorn workers of one deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ServingRegistry:
    """Reads and writes `<prefix>serving:<process>` keys in Redis."""

    def __init__(self, client: redis.Redis, prefix: str, report_seconds: float = SERVING_REPORT_SECONDS,
                 name: Callable[[], str] = process_name):
        self.client, self.prefix, self.report_seconds, self.name = client, prefix + "serving:", report_seconds, name
        self._failing = False

    def report(self, version: str, read_at: float) -> None:
        """Say which version this process serves, as read by a round that began at `read_at` (Unix seconds);
        an unreachable Redis is logged once, never raised."""
        try:
            self.client.set(self.prefix + self.name(), f"{read_at:.6f} {version}", px=int(self.report_seconds * 1000))
        except redis.exceptions.RedisError as exc:
            if not self._failing:
                log.warning("served version not reported to Redis: %s", exc)
            self._failing = True
            return
        self._failing = False

    def reports(self) -> dict[str, tuple[float, str]]:
        """Process -> (when its last round began, the version it serves), for every process that reported
        within the last report interval."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=100))
        values = self.client.mget(keys) if keys else []
        found = {}
        for key, value in zip(keys, values):
            read_at, _, version = (value or "").partition(" ")
            if version:
                found[key[len(self.prefix):]] = (float(read_at), version)
        return found

    def serving(self) -> dict[str, str]:
        """Process -> the version it serves."""
        return {process: version for process, (_, version) in self.reports().items()}

    def wait_until_served(self, version: str, since: float,
                          seconds: float = SERVED_AGREEMENT_WAIT_SECONDS) -> Agreement:
        """Poll until every reporting process serves `version` from a round that began after `since` (Unix
        seconds), at most `seconds`; a process still on an older round counts as not there yet."""
        started = time.monotonic()
        while True:
            reports = self.reports()
            serving = {process: (served if read_at >= since else "(not yet read)")
                       for process, (read_at, served) in reports.items()}
            agreement = Agreement(version, serving, time.monotonic() - started)
            if agreement.agreed or agreement.waited >= seconds:
                return agreement
            time.sleep(POLL_SECONDS)

"""This web process's trending counts: one bounded read of the store per window every few seconds.

Trending must follow new events within 15 s without a rebuild. Reading the store (a grouped query over the
events' time index, recommender/store/recent_events.py) and keeping the answer LIKEWISE_TRENDING_REFRESH_SECONDS
(10 s) was chosen over a Redis sorted set kept at ingest: ingest stays one INSERT (its rate unchanged), uploads and
rollbacks need no second copy kept in step, and a request costs a dictionary look-up (100,000 events of 10,000
visitors: a 0.1 to 0.5 s read). A stale window is re-read by one short-lived thread while requests go on with the counts
held; counts more than TRENDING_STALE_GRACE_SECONDS past their refresh (the first request after a quiet spell)
are re-read on the request instead, so no answer misses events older than 15 s. At most WINDOWS_KEPT windows are
held, so a caller trying many windows costs one query each and evicts only the least recently used. Each held
window also keeps its rendered answers (`answers`, at most ANSWERS_KEPT), which go with it at the next refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from recommender.limits import TRENDING_READ_WAIT_SECONDS, TRENDING_STALE_GRACE_SECONDS
from recommender.panels.trending import SLICES_PER_WINDOW, Trends, Window, trends_from_groups
from recommender.store import StoreUnavailable
from recommender.store.handle import StoreHandle
from recommender.store.recent_events import RecentEvents

log = logging.getLogger(__name__)

WINDOWS_KEPT = 16
ANSWERS_KEPT = 64


@dataclass
class HeldWindow:
    trends: Trends
    answers: OrderedDict = field(default_factory=OrderedDict)
    refreshing: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key, render):
        """The rendered answer for `key` from these counts, rendered once."""
        found = self.answers.get(key)
        if found is None:
            found = render(self.trends)
            self.answers[key] = found
            while len(self.answers) > ANSWERS_KEPT:
                self.answers.popitem(last=False)
        return found


class TrendingCounts:
    """Trends per window, each re-read from the store once `refresh_seconds` have passed."""

    def __init__(self, handle: StoreHandle, refresh_seconds: float, clock=time.time):
        self.handle = handle
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._held: OrderedDict[str, HeldWindow] = OrderedDict()
        self._lock = threading.Lock()
        self._first_read = threading.Lock()

    def _read(self, window: Window) -> Trends:
        now = self.clock()
        groups, types = RecentEvents(self.handle.get()).grouped(now, window.seconds, SLICES_PER_WINDOW)
        return trends_from_groups(groups, window, now, types)

    def held(self, window: Window) -> HeldWindow:
        """The window's counts, at most `refresh_seconds` old, or a little older while another request re-reads
        them (StoreUnavailable when the store is down and none are held)."""
        with self._lock:
            held = self._held.get(window.text)
            if held is not None:
                self._held.move_to_end(window.text)
        if held is None:
            with self._first_read:  # a cold process reads each window once, not once per waiting request
                with self._lock:
                    held = self._held.get(window.text)
                return held if held is not None else self._keep(window, HeldWindow(self._read(window)))
        age = self.age(held)
        if age >= self.refresh_seconds + TRENDING_STALE_GRACE_SECONDS:
            return self._read_now(window, held)
        if age >= self.refresh_seconds and held.refreshing.acquire(blocking=False):
            threading.Thread(target=self._refresh, args=(window, held), name="trending-refresh", daemon=True).start()
        return held

    def age(self, held: HeldWindow) -> float:
        return max(0.0, self.clock() - held.trends.now)

    def fresh_for(self, held: HeldWindow) -> float:
        """How much longer a client or proxy may keep an answer from `held` (its age plus this stays within the
        refresh period)."""
        return max(0.0, self.refresh_seconds - self.age(held))

    def _read_now(self, window: Window, held: HeldWindow) -> HeldWindow:
        """Counts too old to serve, re-read on this request: one reader per window, the others wait for it (at
        most TRENDING_READ_WAIT_SECONDS, then answer from what is held); a store that is down keeps the old ones."""
        if not held.refreshing.acquire(timeout=TRENDING_READ_WAIT_SECONDS):
            return self._held_or(window, held)
        try:
            current = self._held_or(window, held)
            if current is not held:  # re-read by the request this one waited for
                return current
            return self._keep(window, HeldWindow(self._read(window)))
        except StoreUnavailable as exc:
            log.warning("trending counts of %s not re-read, keeping those of %.0f s ago: %s", window.text,
                        self.age(held), exc)
            return held
        finally:
            held.refreshing.release()

    def _held_or(self, window: Window, held: HeldWindow) -> HeldWindow:
        with self._lock:
            return self._held.get(window.text, held)

    def _refresh(self, window: Window, held: HeldWindow) -> None:
        """Re-read a stale window off the request path (the requests meanwhile answer from the counts held)."""
        try:
            self._keep(window, HeldWindow(self._read(window)))
        except StoreUnavailable as exc:
            log.warning("trending counts of %s not refreshed, keeping those of %.0f s ago: %s", window.text,
                        self.age(held), exc)
        finally:
            held.refreshing.release()

    def _keep(self, window: Window, fresh: HeldWindow) -> HeldWindow:
        with self._lock:
            self._held[window.text] = fresh
            self._held.move_to_end(window.text)
            while len(self._held) > WINDOWS_KEPT:
                self._held.popitem(last=False)
        return fresh

    def trends(self, window: Window) -> Trends:
        return self.held(window).trends

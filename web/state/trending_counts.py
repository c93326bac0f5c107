"""This web process's trending counts: one bounded read of the store per window every few seconds.

Trending must follow new events within 15 s without a rebuild. Reading the store (a grouped query over the
events' time index, recommender/store/recent_events.py) and keeping the answer LIKEWISE_TRENDING_REFRESH_SECONDS
(5 s) was chosen over a Redis sorted set kept at ingest: ingest stays one INSERT (its rate unchanged), uploads and
rollbacks need no second copy kept in step, and a request costs a dictionary look-up. One request refreshes
a stale window while the others wait on its lock; at most WINDOWS_KEPT windows are held, so a caller trying many
windows costs one query each and evicts only the least recently used.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from recommender.panels.trending import SLICES_PER_WINDOW, Trends, Window, trends_from_groups
from recommender.store.handle import StoreHandle
from recommender.store.recent_events import RecentEvents

WINDOWS_KEPT = 16


class TrendingCounts:
    """Trends per window, each re-read from the store once `refresh_seconds` have passed."""

    def __init__(self, handle: StoreHandle, refresh_seconds: float, clock=time.time):
        self.handle = handle
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._kept: OrderedDict[str, Trends] = OrderedDict()
        self._lock = threading.Lock()

    def trends(self, window: Window) -> Trends:
        """The window's trends, at most `refresh_seconds` old (StoreUnavailable when the store is down and none
        fresh are held)."""
        with self._lock:
            now = self.clock()
            kept = self._kept.get(window.text)
            if kept is not None and now - kept.now < self.refresh_seconds:
                self._kept.move_to_end(window.text)
                return kept
            groups = RecentEvents(self.handle.get()).grouped(now, window.seconds, SLICES_PER_WINDOW)
            fresh = trends_from_groups(groups, window, now)
            self._kept[window.text] = fresh
            self._kept.move_to_end(window.text)
            while len(self._kept) > WINDOWS_KEPT:
                self._kept.popitem(last=False)
            return fresh

"""This web process's view of whether any stored event changed: the events' newest id and the store's count of
deletions, re-read at most every EVENTS_WATERMARK_RECHECK_SECONDS.

A kept for-you answer stays good while the watermark it was stamped with is the current one, so a busy process
asks the store once per period for every visitor together instead of once per request; only when the watermark
moved does it ask about the one visitor (web/services/personal_lists.py). A new event therefore reaches the
next answer within that period, in every process.
"""

from __future__ import annotations

import threading
import time

from recommender.store import StoreUnavailable
from recommender.store.events import Watermark
from recommender.store.handle import StoreHandle
from recommender.store.user_data import UserData


class EventsWatermark:
    """The store's events watermark, at most `recheck_seconds` old; None while the store cannot be read."""

    def __init__(self, handle: StoreHandle, recheck_seconds: float, clock=time.monotonic):
        self.handle = handle
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._value: Watermark | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def expire(self) -> None:
        """This process just wrote or deleted events: the next look reads the store (its own writes show at once)."""
        with self._lock:
            self._read_at = float("-inf")

    def current(self) -> Watermark | None:
        with self._lock:
            if self.clock() - self._read_at < self.recheck_seconds:
                return self._value
            try:
                self._value = UserData(self.handle.get().engine).watermark()
            except StoreUnavailable:
                self._value = None
            self._read_at = self.clock()
            return self._value

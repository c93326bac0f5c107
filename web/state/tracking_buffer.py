"""Impressions and clicks buffered in-process and written in batches by a background thread.

Recording never slows or fails a request: a request only appends to a list. The flusher writes every
FLUSH_SECONDS (or sooner once FLUSH_ROWS are waiting). When the database is down, or the buffer is
full, rows are dropped and counted; /admin shows the counters of the process that answers it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from recommender.store import InvalidInput, StoreUnavailable
from web.state.background import ProcessThread

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 500
MAX_BUFFERED_ROWS = 50_000


@dataclass
class TrackingCounters:
    """What this process recorded, dropped and last failed on."""

    impressions_written: int = 0
    clicks_written: int = 0
    dropped: int = 0
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> dict:
        return {"impressions_written": self.impressions_written, "clicks_written": self.clicks_written,
                "dropped": self.dropped, "last_error": self.last_error, "last_error_at": self.last_error_at}


@dataclass
class _Pending:
    impressions: list[dict] = field(default_factory=list)
    clicks: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.impressions) + len(self.clicks)



def _flush_at_exit(buffer_ref: weakref.ref) -> None:
    """Write what is still buffered when the process ends; a discarded buffer is not kept alive for it."""
    buffer = buffer_ref()
    if buffer is not None:
        buffer.flush()

class TrackingBuffer:
    """Collects rows from requests; `write(impressions, clicks)` stores one batch (raises StoreUnavailable)."""

    def __init__(self, write: Callable[[list[dict], list[dict]], None], flush_seconds: float = FLUSH_SECONDS,
                 flush_rows: int = FLUSH_ROWS, max_rows: int = MAX_BUFFERED_ROWS):
        self.write = write
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.max_rows = max_rows
        self.counters = TrackingCounters()
        self._pending = _Pending()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._flusher = ProcessThread(self, "flush", flush_seconds, "tracking-flusher")
        atexit.register(_flush_at_exit, weakref.ref(self))

    def add_impression(self, row: dict) -> None:
        self._add(self._pending.impressions, row)

    def add_click(self, row: dict) -> None:
        self._add(self._pending.clicks, row)

    def pending(self) -> int:
        return len(self._pending)

    def _add(self, rows: list[dict], row: dict) -> None:
        with self._lock:
            if len(self._pending) >= self.max_rows:
                self.counters.dropped += 1
                return
            rows.append(row)
            waiting = len(self._pending)
        if waiting >= self.flush_rows:
            self._flusher.wake.set()
        self._ensure_flusher()

    def flush(self) -> int:
        """Write everything waiting now; returns the rows written (0 when they were dropped)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, _Pending()
            if not len(batch):
                return 0
            try:
                self.write(batch.impressions, batch.clicks)
            except (StoreUnavailable, SQLAlchemyError, InvalidInput) as exc:
                self.counters.dropped += len(batch)
                self.counters.last_error, self.counters.last_error_at = str(exc), time.time()
                log.warning("dropped %d tracking rows: %s", len(batch), exc)
                return 0
            self.counters.impressions_written += len(batch.impressions)
            self.counters.clicks_written += len(batch.clicks)
            return len(batch)

    def _ensure_flusher(self) -> None:
        self._flusher.ensure()

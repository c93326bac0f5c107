"""The in-process buffer: requests only append; a background thread writes batches; failures are counted drops."""

from __future__ import annotations

import threading
import time

from recommender.store import StoreUnavailable
from web.state.tracking_buffer import TrackingBuffer

WAIT_SECONDS = 10


def wait_until(condition) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_rows_are_flushed_in_batches_by_the_background_thread():
    batches, done = [], threading.Event()

    def write(impressions, clicks):
        batches.append((len(impressions), len(clicks)))
        done.set()
    buffer = TrackingBuffer(write, flush_seconds=0.2, flush_rows=1000)
    for n in range(30):
        buffer.add_impression({"n": n})
    buffer.add_click({"n": 0})
    assert buffer.pending() == 31 and batches == [], "adding never writes in the request"
    assert wait_until(lambda: buffer.counters.impressions_written == 30), "flushed within a few intervals"
    assert sum(b[0] for b in batches) == 30 and sum(b[1] for b in batches) == 1 and len(batches) <= 2
    assert buffer.pending() == 0 and buffer.counters.dropped == 0


def test_a_full_batch_is_written_before_the_interval():
    written = []
    buffer = TrackingBuffer(lambda i, c: written.append(len(i)), flush_seconds=60, flush_rows=50)
    for n in range(50):
        buffer.add_impression({"n": n})
    assert wait_until(lambda: sum(written) == 50), "N rows wake the flusher without waiting a minute"


def test_store_down_and_full_buffer_drop_rows_with_a_counter():
    def down(impressions, clicks):
        raise StoreUnavailable("the database x is unavailable")
    buffer = TrackingBuffer(down, flush_seconds=60, flush_rows=10_000, max_rows=5)
    for n in range(7):
        buffer.add_impression({"n": n})
    assert buffer.counters.dropped == 2, "rows beyond the buffer's limit are dropped, not queued"
    assert buffer.flush() == 0
    assert buffer.counters.dropped == 7 and "unavailable" in buffer.counters.last_error
    assert buffer.pending() == 0

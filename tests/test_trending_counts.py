"""How old the trending counts a web process answers from may be (web/state/trending_counts.py): re-read in the
background once due, on the request itself once too old to serve, and never kept by clients past their refresh."""

from __future__ import annotations

import threading

import pytest

from recommender.limits import TRENDING_STALE_GRACE_SECONDS
from recommender.panels.trending import parse_window, trends_from_groups
from recommender.store import StoreUnavailable
from web.state.trending_counts import TrendingCounts

REFRESH = 10.0
WINDOW = parse_window("24h")


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingReads(TrendingCounts):
    """TrendingCounts whose store read records when it ran and can be made to fail or to wait."""

    def __init__(self, clock: Clock):
        super().__init__(handle=None, refresh_seconds=REFRESH, clock=clock)
        self.reads: list[float] = []
        self.down = False
        self.gate: threading.Event | None = None

    def _read(self, window):
        if self.gate is not None:
            assert self.gate.wait(5), "the test never opened the gate"
        if self.down:
            raise StoreUnavailable("the store is down")
        self.reads.append(self.clock())
        return trends_from_groups([], window, self.clock())


def wait_for_refresh_threads() -> None:
    for thread in threading.enumerate():
        if thread.name == "trending-refresh":
            thread.join(5)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counts(clock) -> CountingReads:
    counts = CountingReads(clock)
    counts.held(WINDOW)
    return counts


def test_counts_within_their_refresh_are_answered_without_a_read(counts, clock):
    clock.now += REFRESH - 1
    held = counts.held(WINDOW)
    assert len(counts.reads) == 1
    assert counts.fresh_for(held) == pytest.approx(1.0)


def test_counts_due_are_re_read_in_the_background_and_answered_meanwhile(counts, clock):
    first = counts.held(WINDOW)
    clock.now += REFRESH + 1
    assert counts.held(WINDOW) is first
    wait_for_refresh_threads()
    assert counts.reads == [clock.now - REFRESH - 1, clock.now]
    assert counts.held(WINDOW).trends.now == clock.now


def test_counts_too_old_to_serve_are_re_read_on_the_request(counts, clock):
    """The first request after a quiet spell must not show counts from before it (trending's 15 s promise)."""
    clock.now += 3600
    held = counts.held(WINDOW)
    assert held.trends.now == clock.now
    assert len(counts.reads) == 2
    assert counts.fresh_for(held) == REFRESH


def test_the_grace_is_where_background_reads_end(counts, clock):
    first = counts.held(WINDOW)
    clock.now += REFRESH + TRENDING_STALE_GRACE_SECONDS - 0.01
    assert counts.held(WINDOW) is first
    wait_for_refresh_threads()
    clock.now += TRENDING_STALE_GRACE_SECONDS + REFRESH
    assert counts.held(WINDOW).trends.now == clock.now


def test_a_store_that_is_down_keeps_the_old_counts(counts, clock):
    first = counts.held(WINDOW)
    counts.down = True
    clock.now += 3600
    assert counts.held(WINDOW) is first
    assert counts.fresh_for(first) == 0


def test_requests_waiting_for_one_re_read_share_it(counts, clock):
    clock.now += 3600
    counts.gate = threading.Event()
    answers = []
    requests = [threading.Thread(target=lambda: answers.append(counts.held(WINDOW))) for _ in range(4)]
    for request in requests:
        request.start()
    counts.gate.set()
    for request in requests:
        request.join(5)
    assert len(answers) == 4 and len({id(held) for held in answers}) == 1
    assert len(counts.reads) == 2

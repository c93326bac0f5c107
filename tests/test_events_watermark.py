# ruff: noqa: F811 - the store fixtures are imported from tests.helpers.store_databases
"""The events watermark (recommender/store/events.py, web/state/events_watermark.py) on SQLite and PostgreSQL:
every insert and every deletion of stored events moves it, nothing else does, and a web process re-reads it
only once its recheck period has passed (or at once after its own writes)."""

from __future__ import annotations

import time

from recommender.store.events import delete_events
from recommender.store.handle import StoreHandle
from recommender.store.user_data import UserData, forget_user
from tests.helpers.store_databases import backend, db_url, store  # noqa: F401 - fixtures
from web.state.events_watermark import EventsWatermark


def view(user: str, item: str, event_id: str | None = None) -> dict:
    event = {"user_id": user, "item_id": item, "type": "view", "timestamp": time.time()}
    return event | ({"event_id": event_id} if event_id else {})


def test_inserts_and_deletions_move_the_watermark_and_nothing_else(store):
    data = UserData(store.engine)
    empty = data.watermark()
    store.add_events([view("u1", "i1", "e1"), view("u2", "i2")])
    added = data.watermark()
    assert added[0] is not None and added[1] == empty[1]
    store.add_events([view("u1", "i1", "e1")])  # counted once: nothing stored
    assert data.watermark() == added
    assert data.forget("nobody")["events"] == 0
    assert data.watermark() == added
    data.forget("u1")
    forgotten = data.watermark()
    assert int(forgotten[1]) == int(added[1]) + 1
    with store.engine.begin() as connection:
        assert delete_events(connection, None) == 1
        assert forget_user(connection, "u2")["events"] == 0
    assert int(data.watermark()[1]) == int(forgotten[1]) + 1


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_process_re_reads_the_watermark_only_after_its_recheck_or_its_own_writes(db_url, store):
    clock = Clock()
    holder = EventsWatermark(StoreHandle(*db_url), recheck_seconds=0.5, clock=clock)
    seen = holder.current()
    store.add_events([view("u3", "i3")])
    clock.now += 0.4
    assert holder.current() == seen
    clock.now += 0.1
    moved = holder.current()
    assert moved != seen
    store.add_events([view("u3", "i4")])
    holder.expire()
    assert holder.current() != moved
    holder.handle.get().engine.dispose()

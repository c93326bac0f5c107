"""One user's (or visitor's) data in the store of record: their most recent events, read per request by the
for-you and because-you-viewed lists, and forgetting them (their events deleted, their visitor id wiped from
the impressions and clicks they left), so the next build no longer learns from them.

Likewise's visitor cookie and a site's own user ids are both events.user_id, so one function serves both.
Reads are bounded (newest first, at most `limit` rows) and use the (user_id, ts) index of migration 0005.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from recommender.metrics.schema import clicks, impressions
from recommender.store.engine import writer
from recommender.store.events import Watermark, delete_events_where, events_watermark
from recommender.store.store_of_record import guarded
from recommender.store.tables import events


@dataclass(frozen=True)
class HistoryEvent:
    """One event of a user's history: what, which kind, its value (ratings) and when (Unix seconds)."""

    item_id: str
    type: str
    value: float | None
    ts: float


def recent_events(connection: Connection, user_id: str, limit: int) -> list[HistoryEvent]:
    """The user's newest `limit` events, newest first."""
    statement = (select(events.c.item_id, events.c.type, events.c.value, events.c.ts)
                 .where(events.c.user_id == user_id).order_by(events.c.ts.desc(), events.c.id.desc()).limit(limit))
    return [HistoryEvent(row.item_id, row.type, row.value, row.ts) for row in connection.execute(statement)]


def newest_event_id(connection: Connection, user_id: str) -> int | None:
    """The id of the user's newest stored event (rows only grow; a deletion lowers it or makes it None): what a
    cached personal list is keyed on, so any new or deleted event of theirs makes a new answer."""
    return connection.execute(select(func.max(events.c.id)).where(events.c.user_id == user_id)).scalar()


def forget_user(connection: Connection, user_id: str) -> dict[str, int]:
    """Delete the user's events and wipe their id from impressions and clicks (the counts stay, anonymous).

    Returns how many rows of each were touched; all zero means Likewise held nothing about them."""
    removed = delete_events_where(connection, events.c.user_id == user_id)
    counted = {}
    for name, table in (("impressions", impressions), ("clicks", clicks)):
        counted[name] = connection.execute(select(func.count()).where(table.c.visitor == user_id)).scalar_one()
        if counted[name]:
            connection.execute(update(table).where(table.c.visitor == user_id).values(visitor=""))
    return {"events": removed, "impressions_anonymised": int(counted["impressions"]),
            "clicks_anonymised": int(counted["clicks"])}


class UserData:
    """The calls above on the store's engine, each one transaction; StoreUnavailable when it is down."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.writer = writer(engine)

    @guarded
    def recent(self, user_id: str, limit: int) -> list[HistoryEvent]:
        with self.engine.connect() as connection:
            return recent_events(connection, user_id, limit)

    @guarded
    def newest(self, user_id: str) -> int | None:
        with self.engine.connect() as connection:
            return newest_event_id(connection, user_id)

    @guarded
    def watermark(self) -> Watermark:
        with self.engine.connect() as connection:
            return events_watermark(connection)

    @guarded
    def forget(self, user_id: str) -> dict[str, int]:
        with self.writer.begin() as connection:
            return forget_user(connection, user_id)

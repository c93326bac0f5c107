"""Recent events counted in the database for trending (issue 24): one bounded, grouped read per refresh.

Rows are (item, time slice) groups of the events of the last two windows, each with its count and mean
time, so a caller can decay them without reading events one by one, and (item, type) counts of the last
window for the why. The read uses the events' time
index and stops at TRENDING_QUERY_MAX_ROWS groups.
"""

from __future__ import annotations

from sqlalchemy import Integer, cast, func, literal, select

from recommender.limits import TRENDING_QUERY_MAX_ROWS
from recommender.store.store_of_record import Store, guarded
from recommender.store.tables import events

WINDOWS_READ = 2  # the window itself and the one before it ("up from ...")


def _slice_of(connection, now: float, width: float):
    position = (literal(now) - events.c.ts) / width
    if connection.dialect.name == "postgresql":
        return cast(func.floor(position), Integer)
    return cast(position, Integer)  # SQLite truncates toward zero: ages are never negative here


class RecentEvents:
    """Reads the grouped recent events of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    @guarded
    def grouped(self, now: float, window: float, slices: int) -> tuple[list, list]:
        """([(item_id, slice, count, mean ts)] of the events in (now - 2 window, now], slice 0 the newest
        window / slices seconds; [(item_id, type, count)] of the events of the last window)."""
        with self.engine.connect() as connection:
            part = _slice_of(connection, now, window / slices).label("part")
            sliced = (select(events.c.item_id, part, func.count(), func.avg(events.c.ts))
                      .where(events.c.ts > now - WINDOWS_READ * window, events.c.ts <= now)
                      .group_by(events.c.item_id, part).limit(TRENDING_QUERY_MAX_ROWS))
            typed = (select(events.c.item_id, events.c.type, func.count())
                     .where(events.c.ts > now - window, events.c.ts <= now)
                     .group_by(events.c.item_id, events.c.type).limit(TRENDING_QUERY_MAX_ROWS))
            return ([(str(i), int(p), int(c), float(m)) for i, p, c, m in connection.execute(sliced)],
                    [(str(i), str(t), int(c)) for i, t, c in connection.execute(typed)])

"""Counts for the admin page: items, hidden items, recent events by type, catalog revision."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from recommender.store.event_validation import EVENT_TYPES
from recommender.store.state import read_state
from recommender.store.tables import (
    STATE_CATALOG_RELEASE,
    STATE_FILES_IMPORTED,
    STATE_LAST_CHANGE,
    STATE_REVISION,
    events,
    items,
)

DAY_S = 86_400
WINDOWS = {"last_24h": DAY_S, "last_7d": 7 * DAY_S}


def _events_by_type(connection: Connection, since: float) -> dict[str, int]:
    counts = dict(connection.execute(select(events.c.type, func.count()).where(events.c.ts >= since)
                                     .group_by(events.c.type)).all())
    return {kind: int(counts.get(kind, 0)) for kind in EVENT_TYPES}


def _float_or_none(text: str | None) -> float | None:
    return None if text is None else float(text)


def store_summary(connection: Connection, now: float) -> dict:
    total, hidden = connection.execute(select(func.count(), func.count().filter(items.c.hidden))).one()
    state = read_state(connection)
    return {
        "items": int(total),
        "hidden_items": int(hidden),
        "events": {name: _events_by_type(connection, now - seconds) for name, seconds in WINDOWS.items()},
        "last_change_at": _float_or_none(state.get(STATE_LAST_CHANGE)),
        "catalog_revision": int(state.get(STATE_REVISION) or 0),
        "files_imported_at": _float_or_none(state.get(STATE_FILES_IMPORTED)),
        "catalog_release": _release(state.get(STATE_CATALOG_RELEASE)),
    }


def _release(text: str | None) -> dict | None:
    """Which version's catalog was last written whole into the store (a rollback, or the replace upload
    it was built from), and the catalog revision that left."""
    if not text or "@" not in text:
        return None
    version, _, revision = text.rpartition("@")
    return {"version": version, "revision": int(revision or 0)}

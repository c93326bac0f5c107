"""The store_state counters: a catalog revision bumped on every catalog change, and when it changed; how often
events were deleted."""

from __future__ import annotations

from sqlalchemy import Integer, Text, cast, select, update
from sqlalchemy.engine import Connection

from recommender.store.tables import STATE_LAST_CHANGE, STATE_REVISION, store_state


def bump_counter(connection: Connection, key: str) -> None:
    """Add one to the counter `key`, inside the caller's transaction (a row lock on PostgreSQL)."""
    connection.execute(update(store_state).where(store_state.c.key == key)
                       .values(value=cast(cast(store_state.c.value, Integer) + 1, Text)))


def bump_revision(connection: Connection, now: float) -> None:
    """Count one more catalog change."""
    bump_counter(connection, STATE_REVISION)
    set_state(connection, STATE_LAST_CHANGE, repr(now))


def set_state(connection: Connection, key: str, value: str | None) -> None:
    connection.execute(update(store_state).where(store_state.c.key == key).values(value=value))


def read_state(connection: Connection) -> dict[str, str | None]:
    return dict(connection.execute(select(store_state.c.key, store_state.c.value)).all())

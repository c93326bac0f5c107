"""Appending behaviour events inside a caller's transaction, counting each event_id once."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from recommender.store.state import bump_counter
from recommender.store.tables import STATE_EVENTS_DELETED, events, items, store_state
from recommender.store.upsert import chunks, dialect_insert

INSERT_CHUNK_ROWS = 1000
LOOKUP_CHUNK_IDS = 500
MAX_UNKNOWN_IDS_LISTED = 20


def drop_repeated_ids(rows: list[dict]) -> list[dict]:
    """The rows without later repeats of an event_id already in the batch (events without one all stay)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        event_id = row["event_id"]
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        kept.append(row)
    return kept


EVENT_COLUMNS = ("event_id", "user_id", "item_id", "type", "value", "ts", "received_at", "origin", "session_id")
POSTGRES_INSERT = (
    "INSERT INTO events (event_id, user_id, item_id, type, value, ts, received_at, origin, session_id) "
    "SELECT * FROM unnest(%(event_id)s::varchar[], %(user_id)s::varchar[], %(item_id)s::varchar[], "
    "%(type)s::varchar[], %(value)s::float8[], %(ts)s::float8[], %(received_at)s::float8[], "
    "%(origin)s::varchar[], %(session_id)s::varchar[]) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id")
POSTGRES_KNOWN_ITEMS = "SELECT item_id FROM items WHERE item_id = ANY(%(ids)s::varchar[])"


def insert_events(connection: Connection, rows: list[dict]) -> int:
    """Insert rows, skipping event_ids already stored; returns how many were new.

    PostgreSQL gets one statement of column arrays per chunk (psycopg re-parses a long multi-row
    statement on every call, which caps it near 2,000 events/s); SQLite an executemany."""
    accepted = 0
    postgres = connection.dialect.name == "postgresql"
    statement = (dialect_insert(connection, events).on_conflict_do_nothing(index_elements=[events.c.event_id])
                 .returning(events.c.id))
    for chunk in chunks(drop_repeated_ids(rows), INSERT_CHUNK_ROWS):
        if postgres:
            arrays = {column: [row[column] for row in chunk] for column in EVENT_COLUMNS}
            accepted += len(connection.exec_driver_sql(POSTGRES_INSERT, arrays).all())
        else:
            accepted += len(connection.execute(statement, chunk).all())
    return accepted


class Watermark(NamedTuple):
    """While both stay the same, no stored event was added or deleted, so nobody's history changed."""

    newest_id: int | None
    deletions: str | None


def delete_events_where(connection: Connection, condition=None) -> int:
    """Remove the events matching `condition` (None: every event), counting the deletion in the watermark;
    returns how many. Every deletion of events goes through here."""
    statement = events.delete() if condition is None else events.delete().where(condition)
    deleted = connection.execute(statement).rowcount
    if deleted:
        bump_counter(connection, STATE_EVENTS_DELETED)
    return int(deleted or 0)


def delete_events(connection: Connection, origin: str | None) -> int:
    """Remove the events of one origin (None: every event); returns how many."""
    return delete_events_where(connection, None if origin is None else events.c.origin == origin)


def events_watermark(connection: Connection) -> Watermark:
    deleted = select(store_state.c.value).where(store_state.c.key == STATE_EVENTS_DELETED).scalar_subquery()
    return Watermark(*connection.execute(select(func.max(events.c.id), deleted)).one())


def unknown_item_ids(connection: Connection, item_ids: set[str]) -> set[str]:
    """The ids among `item_ids` that name no item in the catalog."""
    wanted = sorted(item_ids)
    if connection.dialect.name == "postgresql":
        return set(wanted) - set(connection.exec_driver_sql(POSTGRES_KNOWN_ITEMS, {"ids": wanted}).scalars())
    known: set[str] = set()
    for chunk in chunks(wanted, LOOKUP_CHUNK_IDS):
        known.update(connection.execute(select(items.c.item_id).where(items.c.item_id.in_(chunk))).scalars())
    return set(wanted) - known


def add_event_rows(connection: Connection, rows: list[dict]) -> dict:
    """Store rows; report accepted, duplicates and the events naming items not in the catalog."""
    accepted = insert_events(connection, rows)
    unknown = unknown_item_ids(connection, {row["item_id"] for row in rows})
    return {"accepted": accepted, "duplicates": len(rows) - accepted,
            "unknown_items": sum(1 for row in rows if row["item_id"] in unknown),
            "unknown_item_ids": sorted(unknown)[:MAX_UNKNOWN_IDS_LISTED]}

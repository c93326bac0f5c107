"""Appending behaviour events inside a caller's transaction, counting each event_id once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from recommender.store.schema import events, items
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


def insert_events(connection: Connection, rows: list[dict]) -> int:
    """Insert rows, skipping event_ids already stored; returns how many were new."""
    accepted = 0
    for chunk in chunks(drop_repeated_ids(rows), INSERT_CHUNK_ROWS):
        statement = dialect_insert(connection, events).values(chunk)
        statement = statement.on_conflict_do_nothing(index_elements=[events.c.event_id]).returning(events.c.id)
        accepted += len(connection.execute(statement).all())
    return accepted


def unknown_item_ids(connection: Connection, item_ids: set[str]) -> set[str]:
    """The ids among `item_ids` that name no item in the catalog."""
    wanted = sorted(item_ids)
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

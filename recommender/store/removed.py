"""Ids deleted or hidden in the store, kept so answers can drop them before the next build.

Written in the same transaction as the change itself, so an item is never gone from the store but
still listed as present here (or the other way round). An id leaves the list when it is stored
visible again. `removed_revision` counts the changes, so a reader re-reads the list only when it moved.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from recommender.store.state import bump_counter
from recommender.store.tables import STATE_REMOVED_REVISION, removed_items, store_state
from recommender.store.upsert import chunks, dialect_insert

CHUNK_IDS = 500



def mark_removed(connection: Connection, item_ids: list[str], now: float) -> None:
    """Answers must stop showing these ids (deleted, or stored hidden)."""
    if not item_ids:
        return
    statement = dialect_insert(connection, removed_items).on_conflict_do_nothing(
        index_elements=[removed_items.c.item_id])
    for chunk in chunks(item_ids, CHUNK_IDS):
        connection.execute(statement, [{"item_id": item_id, "removed_at": now} for item_id in chunk])
    bump_counter(connection, STATE_REMOVED_REVISION)


def mark_present(connection: Connection, item_ids: list[str]) -> None:
    """These ids are stored visible again: answers may show them (once a build has them)."""
    if not item_ids or connection.execute(select(removed_items.c.item_id).limit(1)).first() is None:
        return
    gone = 0
    for chunk in chunks(item_ids, CHUNK_IDS):
        gone += connection.execute(delete(removed_items).where(removed_items.c.item_id.in_(chunk))).rowcount
    if gone:
        bump_counter(connection, STATE_REMOVED_REVISION)


def removed_revision(connection: Connection) -> int:
    value = connection.execute(select(store_state.c.value)
                               .where(store_state.c.key == STATE_REMOVED_REVISION)).scalar()
    return int(value or 0)


def read_removed(connection: Connection) -> frozenset[str]:
    return frozenset(connection.execute(select(removed_items.c.item_id)).scalars())

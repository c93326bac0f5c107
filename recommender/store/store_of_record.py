"""The store of record: the live catalog and the behaviour events, in one database.

Every public method is one transaction: it all happens or none of it does. A database that cannot
be reached (or stays locked past the busy timeout) raises StoreUnavailable; bad input raises
InvalidInput carrying every error as {index, field, message}.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.engine import Engine

from recommender.catalog.ids import normal_id, with_normal_ids
from recommender.catalog.sources import CatalogFiles
from recommender.limits import CATALOG_EXPORT_PAGE_ROWS
from recommender.store import events as event_store
from recommender.store import items as item_store
from recommender.store import removed as removed_store
from recommender.store import upload_rows as uploads
from recommender.store.engine import StoreUnavailable, make_engine, writer
from recommender.store.event_validation import event_row, validate_events
from recommender.store.file_guard import guard_engine
from recommender.store.migrate import upgrade
from recommender.store.state import bump_revision, read_state, set_state
from recommender.store.summary import store_summary
from recommender.store.tables import (
    STATE_CATALOG_RELEASE,
    STATE_FILES_IMPORTED,
    STATE_FILES_IMPORTED_FROM,
    STATE_REVISION,
    UPLOAD_ORIGIN,
    items,
    store_state,
)
from recommender.store.validation import id_problem, item_fields, validate_item

MAX_ITEMS_PER_CALL = 1000
MAX_EVENTS_PER_CALL = 1000
ALL_EVENTS = "all"  # a replace upload with "also clear events": every stored event goes, the API's too


class InvalidInput(ValueError):
    """Input that was refused as a whole; `errors` lists every problem as {index, field, message}."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"[{e['index']}] {e['field'] or 'input'}: {e['message']}" for e in errors))


def guarded(method):
    """Turn "cannot reach / locked" database errors into StoreUnavailable naming the database."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreUnavailable(f"the database {where} is unavailable: {error.orig or error}") from error
    return wrapper


def validate_items(bodies) -> list[dict]:
    """Every problem in a batch of items, each body carrying its own item_id."""
    if not isinstance(bodies, list):
        return [{"index": None, "field": "", "message": "items must be a JSON list"}]
    if len(bodies) > MAX_ITEMS_PER_CALL:
        return [{"index": None, "field": "", "message": f"at most {MAX_ITEMS_PER_CALL} items per call"}]
    errors, seen = [], set()
    for index, body in enumerate(bodies):
        item_id = body.get("item_id") if isinstance(body, dict) else None
        errors += validate_item(index, item_id, body)
        if isinstance(item_id, str) and item_id in seen:
            errors.append({"index": index, "field": "item_id", "message": "item_id repeats an earlier item"})
        if isinstance(item_id, str):  # other values are refused above, and may not even be hashable
            seen.add(item_id)
    return errors


class Store:
    """The catalog and events in a database; safe to share between threads and processes."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.writer = writer(engine)
        self.file_guard = guard_engine(engine)  # SQLite: refuse a file deleted or replaced under us

    @classmethod
    def open(cls, url: str | None, data_dir: str | Path) -> "Store":
        """Connect and bring the schema to the newest revision."""
        store = cls(make_engine(url, data_dir))
        store.migrate()
        return store

    @guarded
    def migrate(self) -> None:
        upgrade(self.engine)

    @guarded
    def put_item(self, item_id: str, fields: dict) -> str:
        """Create or replace one item; returns "created" or "updated"."""
        item_id, fields = normal_id(item_id), with_normal_ids([fields])[0]
        errors = validate_item(0, item_id, fields)
        if errors:
            raise InvalidInput(errors)
        now = time.time()
        with self.writer.begin() as connection:
            created, _ = item_store.upsert_items(connection, [{"item_id": item_id, **item_fields(fields)}], now)
            bump_revision(connection, now)
        return "created" if created else "updated"

    @guarded
    def put_items(self, bodies: list[dict]) -> tuple[int, int]:
        """Create or replace up to 1,000 items, all or none; returns (created, updated)."""
        bodies = with_normal_ids(bodies)
        errors = validate_items(bodies)
        if errors:
            raise InvalidInput(errors)
        rows = [{"item_id": body["item_id"], **item_fields(body)} for body in bodies]
        now = time.time()
        with self.writer.begin() as connection:
            counts = item_store.upsert_items(connection, rows, now)
            if rows:
                bump_revision(connection, now)
        return counts

    @guarded
    def delete_item(self, item_id: str) -> bool:
        """Remove an item (its events stay); False when there was none."""
        item_id = normal_id(item_id)
        if id_problem(item_id):
            return False
        now = time.time()
        with self.writer.begin() as connection:
            deleted = item_store.delete_items(connection, [item_id], now) > 0
            if deleted:
                bump_revision(connection, now)
        return deleted

    @guarded
    def get_item(self, item_id: str) -> dict | None:
        item_id = normal_id(item_id)
        if id_problem(item_id):
            return None
        with self.engine.connect() as connection:
            return item_store.read_item(connection, item_id)

    @guarded
    def export_items(self, page_rows: int = CATALOG_EXPORT_PAGE_ROWS) -> tuple[list[str], Iterator[list[dict]]]:
        """(attribute names, pages of item rows) of every stored item, hidden too. The names and the
        first page are read now, so a database that is down is reported before anything is sent."""
        names = item_store.attribute_names(self.engine)
        pages = item_store.item_pages(self.engine, page_rows)
        first = next(pages, None)
        return names, itertools.chain([first] if first else [], pages)

    @guarded
    def add_events(self, batch: list[dict]) -> dict:
        """Store up to 1,000 events, all or none: {accepted, duplicates, unknown_items, unknown_item_ids}."""
        now = time.time()
        batch = with_normal_ids(batch)
        errors = validate_events(batch, now)
        if not errors and len(batch) > MAX_EVENTS_PER_CALL:
            errors = [{"index": None, "field": "", "message": f"at most {MAX_EVENTS_PER_CALL} events per call"}]
        if errors:
            raise InvalidInput(errors)
        rows = [event_row(event, now) for event in batch]
        with self.writer.begin() as connection:
            return event_store.add_event_rows(connection, rows)

    @guarded
    def replace_catalog(self, items_frame: pd.DataFrame, interactions: pd.DataFrame | None = None,
                        clear_events: bool = False, release: str | None = None) -> dict:
        """Make an uploaded catalog the whole catalog (items not in it are removed). Its interactions
        replace those of earlier uploads; events sent through the API stay, unless `clear_events`.
        `release` names the version built from exactly this catalog, if one was."""
        return self._write_catalog(items_frame, interactions, replace=True, clear_events=clear_events,
                                   release=release)

    @guarded
    def restore_release(self, items_frame: pd.DataFrame, version: str, switch) -> dict:
        """Make a version's kept items the whole catalog (events stay) and call `switch` before the
        commit, so nothing is written unless it returns (recommender/store/release.py)."""
        now = time.time()
        with self.writer.begin() as connection:
            written = self._write_catalog_rows(connection, uploads.item_rows(items_frame), [], True, now,
                                               release=version)
            switch()
        return written

    @guarded
    def merge_catalog(self, items_frame: pd.DataFrame, interactions: pd.DataFrame | None = None) -> dict:
        """Add and overwrite the uploaded items, keeping the others."""
        return self._write_catalog(items_frame, interactions, replace=False)

    def _write_catalog(self, items_frame, interactions, replace: bool, connection=None,
                       clear_events: bool = False, release: str | None = None) -> dict:
        now = time.time()
        item_rows = uploads.item_rows(items_frame)
        events = uploads.event_rows(interactions, now) if interactions is not None else []
        if clear_events:
            cleared = ALL_EVENTS
        else:
            cleared = UPLOAD_ORIGIN if replace and interactions is not None else None
        if connection is None:
            with self.writer.begin() as connection:
                return self._write_catalog_rows(connection, item_rows, events, replace, now, cleared, release)
        return self._write_catalog_rows(connection, item_rows, events, replace, now, cleared, release)

    @staticmethod
    def _write_catalog_rows(connection, item_rows, events, replace: bool, now: float, cleared=None,
                            release: str | None = None) -> dict:
        """Write items (replace: they become the whole catalog) and events; `cleared` names the events
        removed first: UPLOAD_ORIGIN (earlier uploads' interactions), ALL_EVENTS, or None. With
        `release`, the store notes that its catalog is now that version's, at the revision written."""
        removed = 0
        if replace:
            gone = item_store.item_ids(connection) - {row["item_id"] for row in item_rows}
            removed = item_store.delete_items(connection, sorted(gone), now)
        created, updated = item_store.upsert_items(connection, item_rows, now)
        events_removed = 0 if cleared is None else event_store.delete_events(
            connection, None if cleared == ALL_EVENTS else cleared)
        accepted = event_store.insert_events(connection, events)
        bump_revision(connection, now)
        if release:
            set_state(connection, STATE_CATALOG_RELEASE, f"{release}@{read_state(connection).get(STATE_REVISION)}")
        return {"created": created, "updated": updated, "removed": removed, "events_removed": events_removed,
                "events_added": accepted, "events_already_stored": len(events) - accepted}

    @guarded
    def import_files_once(self, active_catalog_dir: str | Path) -> dict | None:
        """On first start, copy an existing data dir's active catalog files into an empty store.

        Returns what was imported, or None when the store already holds a catalog, an import
        already happened, or there are no files. Two processes starting at once import once."""
        files = CatalogFiles.in_directory(Path(active_catalog_dir))
        if files is None or self._imported_or_filled():
            return None
        catalog = files.load()
        with self.writer.begin() as connection:
            imported = connection.execute(select(store_state.c.value).with_for_update()  # waits for a rival
                                          .where(store_state.c.key == STATE_FILES_IMPORTED)).scalar()
            if imported or connection.execute(items.select().limit(1)).first():
                return None
            result = self._write_catalog(catalog.items, catalog.interactions, replace=True, connection=connection)
            set_state(connection, STATE_FILES_IMPORTED, repr(time.time()))
            set_state(connection, STATE_FILES_IMPORTED_FROM, files.describe())
        return result

    def _imported_or_filled(self) -> bool:
        with self.engine.connect() as connection:
            imported = read_state(connection).get(STATE_FILES_IMPORTED)
            return bool(imported) or connection.execute(items.select().limit(1)).first() is not None

    @guarded
    def removed_revision(self) -> int:
        """A counter that moves whenever the list of removed ids changes (cheap to poll)."""
        with self.engine.connect() as connection:
            return removed_store.removed_revision(connection)

    @guarded
    def removed_ids(self) -> tuple[int, frozenset[str]]:
        """(revision, ids deleted or hidden and not stored visible since), read together."""
        with self.engine.connect() as connection, connection.begin():
            return removed_store.removed_revision(connection), removed_store.read_removed(connection)

    @guarded
    def summary(self, now: float | None = None) -> dict:
        with self.engine.connect() as connection:
            return store_summary(connection, time.time() if now is None else now)

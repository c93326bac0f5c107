"""Catalog items in the store: writing and reading them (inside a caller's transaction, or paged for
exports) and their column layout as a catalog frame."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from recommender.catalog.attribute_types import stored_attribute_column
from recommender.limits import CATALOG_EXPORT_PAGE_ROWS
from recommender.store.removed import mark_present, mark_removed
from recommender.store.tables import items
from recommender.store.upsert import chunks, dialect_insert
from recommender.store.validation import split_categories

UPSERT_CHUNK_ROWS = 500
OWN_ATTRIBUTE_COLUMNS = ("image_url", "url")
EXPORT_COLUMNS = ("item_id", "title", "description", "categories", "year", "image_url", "url", "hidden")
UPDATED_COLUMNS = ("title", "description", "categories", "year", "image_url", "url", "hidden", "attributes",
                   "updated_at")


def upsert_items(connection: Connection, rows: list[dict], now: float) -> tuple[int, int]:
    """Create or overwrite items (rows carry item_id and item fields); returns (created, updated).

    A row is new when the created_at it comes back with is the one written now; an existing row keeps
    its created_at. One statement per chunk, so two writers of one item end in one whole record."""
    created = 0
    statement = dialect_insert(connection, items)
    statement = statement.on_conflict_do_update(
        index_elements=[items.c.item_id],
        set_={name: statement.excluded[name] for name in UPDATED_COLUMNS},
    ).returning(items.c.created_at)
    for chunk in chunks(rows, UPSERT_CHUNK_ROWS):
        values = [{**row, "created_at": now, "updated_at": now} for row in chunk]
        created += sum(1 for (created_at,) in connection.execute(statement, values) if created_at == now)
    mark_removed(connection, [row["item_id"] for row in rows if row.get("hidden")], now)
    mark_present(connection, [row["item_id"] for row in rows if not row.get("hidden")])
    return created, len(rows) - created


def delete_items(connection: Connection, item_ids: list[str], now: float) -> int:
    """Delete items, listing them as removed in the same transaction."""
    deleted = 0
    for chunk in chunks(item_ids, UPSERT_CHUNK_ROWS):
        deleted += connection.execute(delete(items).where(items.c.item_id.in_(chunk))).rowcount
    if deleted:
        mark_removed(connection, item_ids, now)
    return deleted


def item_ids(connection: Connection) -> set[str]:
    return set(connection.execute(select(items.c.item_id)).scalars())


def read_item(connection: Connection, item_id: str) -> dict | None:
    """An item as the JSON API shows it: fields, then its other attributes at the top level."""
    row = connection.execute(select(items).where(items.c.item_id == item_id)).mappings().first()
    if row is None:
        return None
    item = {"item_id": row["item_id"], "title": row["title"], "description": row["description"],
            "categories": split_categories(row["categories"]), "year": row["year"],
            "image_url": row["image_url"], "url": row["url"], "hidden": bool(row["hidden"])}
    item.update(row["attributes"] or {})
    item.update(created_at=row["created_at"], updated_at=row["updated_at"])
    return item


def item_pages(engine, page_rows: int):
    """Every stored item (hidden ones too) as rows, `page_rows` at a time in item_id order.

    Each page is its own short read, keyed on the last id seen, so a long export never holds a
    transaction open against the writers."""
    after = None
    while True:
        query = select(items).order_by(items.c.item_id).limit(page_rows)
        if after is not None:
            query = query.where(items.c.item_id > after)
        with engine.connect() as connection:
            page = [dict(row) for row in connection.execute(query).mappings()]
        if not page:
            return
        yield page
        after = page[-1]["item_id"]


def attribute_names(engine) -> list[str]:
    """The names of the free-form attributes any stored item has, sorted."""
    names: set[str] = set()
    with engine.connect() as connection:
        for attributes in connection.execution_options(yield_per=CATALOG_EXPORT_PAGE_ROWS).execute(
                select(items.c.attributes)).scalars():
            names.update(attributes or {})
    return sorted(names)


def _attribute_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def column_order(attribute_dicts) -> list[str]:
    """Attribute names in the order the catalog file had its columns (each item's attributes keep it; an item
    without some of them places the others after the names it does have), so a version built from the store
    lists attributes as one built from the uploaded file does, however often it is rebuilt."""
    order: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for attributes in attribute_dicts:
        names = tuple(attributes)
        if names in seen:  # most items share one layout: each layout is placed once
            continue
        seen.add(names)
        position = 0
        for name in names:
            if name in order:
                position = order.index(name) + 1
            else:
                order.insert(position, name)
                position += 1
    return order


def items_frame(rows: list[dict], names: list[str] | None = None, typed: bool = False) -> pd.DataFrame:
    """Item rows in the column layout load_items gives (attributes as text, '' when missing; `typed`:
    numbers and booleans as such where every stored value agrees, as builds need them); the
    attribute columns are `names`, or those the rows have."""
    if names is None:
        names = [name for name in column_order(row["attributes"] or {} for row in rows)
                 if name not in OWN_ATTRIBUTE_COLUMNS]
    frame = pd.DataFrame({
        "item_id": [row["item_id"] for row in rows],
        "title": [row["title"] for row in rows],
        "description": [row["description"] for row in rows],
        "categories": [row["categories"] for row in rows],
        "year": pd.array([row["year"] for row in rows], dtype="Int64"),
    })
    for column in OWN_ATTRIBUTE_COLUMNS:
        frame[column] = [row[column] or "" for row in rows]
    for name in names:
        values = [(row["attributes"] or {}).get(name) for row in rows]
        frame[name] = stored_attribute_column(values) if typed else [_attribute_text(value) for value in values]
    return frame


def export_frame(rows: list[dict], names: list[str]) -> pd.DataFrame:
    """A page of an export: items_frame with `hidden` after the item's own fields (EXPORT_COLUMNS)."""
    frame = items_frame(rows, names)
    frame.insert(EXPORT_COLUMNS.index("hidden"), "hidden", [_attribute_text(bool(row["hidden"])) for row in rows])
    return frame

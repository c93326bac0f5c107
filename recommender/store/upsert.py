"""INSERT ... ON CONFLICT for both databases, so concurrent writers of one row never collide."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def dialect_insert(connection: Connection, table: Table):
    """The dialect's own insert(), which knows ON CONFLICT (SQLite 3.24+ and PostgreSQL 9.5+)."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def chunks(rows: list, size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]

"""Bring the database schema to the newest revision; every process calls this on start.

Safe when several processes start at once: on PostgreSQL the upgrade runs under a transaction-level
advisory lock, on SQLite inside BEGIN IMMEDIATE (the file's write lock). The second process then
finds the schema at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from recommender.store.engine import writer

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 0x4C696B65  # "Like": one key for every Likewise schema upgrade


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Upgrade to head (idempotent); returns once the schema is current."""
    if current_revision(engine) == head_revision():
        return
    config = _config()
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

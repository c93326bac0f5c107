"""The store's tables: items (the catalog), events (behaviour) and store_state (counters).

Times are float Unix seconds everywhere, so both databases compare and subtract them the same way.
events.item_id is deliberately not a foreign key: events for items not (yet) in the catalog are kept.
"""

from __future__ import annotations

from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Boolean,
                        Column,
                        Float,
                        Index,
                        Integer,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
)

ID_LENGTH = 200
TYPE_LENGTH = 20
STATE_KEY_LENGTH = 64
ORIGIN_LENGTH = 10
SESSION_LENGTH = 128  # recommender.limits.SESSION_ID_MAX_CHARS
UPLOAD_ORIGIN, API_ORIGIN = "upload", "api"  # from an uploaded interactions file, or sent (events API, clicks)

metadata = MetaData()

items = Table(
    "items", metadata,
    Column("item_id", String(ID_LENGTH), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("categories", Text, nullable=False, default=""),
    Column("year", Integer, nullable=True),
    Column("image_url", Text, nullable=False, default=""),
    Column("url", Text, nullable=False, default=""),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(ID_LENGTH), nullable=True),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("item_id", String(ID_LENGTH), nullable=False),
    Column("type", String(TYPE_LENGTH), nullable=False),
    Column("value", Float, nullable=True),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("origin", String(ORIGIN_LENGTH), nullable=False, server_default=API_ORIGIN),
    Column("session_id", String(SESSION_LENGTH), nullable=True),  # an order, basket or session (issue 24)
    UniqueConstraint("event_id", name="uq_events_event_id"),
    Index("ix_events_ts", "ts"),
    Index("ix_events_origin", "origin"),
    Index("ix_events_user_ts", "user_id", "ts"),
)

removed_items = Table(
    "removed_items", metadata,
    Column("item_id", String(ID_LENGTH), primary_key=True),
    Column("removed_at", Float, nullable=False),
)

RULE_ID_LENGTH = 64
CHANGED_BY_LENGTH = 200

# Merchandising rules (issue 25): the rules in force, and every change to them (who, when, what), which is
# also what a rollback restores them from when the admin asks.
rules = Table(
    "rules", metadata,
    Column("rule_id", String(RULE_ID_LENGTH), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(CHANGED_BY_LENGTH), nullable=False),
)

rule_changes = Table(
    "rule_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("rule_id", String(RULE_ID_LENGTH), nullable=False),
    Column("body", JSON, nullable=True),  # None: the rule was deleted
    Column("changed_at", Float, nullable=False),
    Column("changed_by", String(CHANGED_BY_LENGTH), nullable=False),
    Index("ix_rule_changes_changed_at", "changed_at"),
)

store_state = Table(
    "store_state", metadata,
    Column("key", String(STATE_KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=True),
)

STATE_REVISION = "catalog_revision"
STATE_LAST_CHANGE = "last_change_at"
STATE_FILES_IMPORTED = "files_imported_at"
STATE_FILES_IMPORTED_FROM = "files_imported_from"
STATE_REMOVED_REVISION = "removed_revision"
STATE_CATALOG_RELEASE = "catalog_release"  # "<version>@<catalog revision>": the version whose catalog was restored
STATE_RULES_REVISION = "rules_revision"  # bumped on every rule change, so web processes re-read them only then
STATE_EVENTS_DELETED = "events_deleted"  # bumped whenever events are deleted (inserts raise the newest event id)
STATE_KEYS = (STATE_REVISION, STATE_LAST_CHANGE, STATE_FILES_IMPORTED, STATE_FILES_IMPORTED_FROM,
              STATE_REMOVED_REVISION, STATE_CATALOG_RELEASE, STATE_RULES_REVISION, STATE_EVENTS_DELETED)

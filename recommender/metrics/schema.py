"""The metrics tables: impressions, clicks and experiments (created by migration 0003; `panel` by 0005).

Clicks repeat their impression's version, arm and surface: an impression id is shared by every
view of one cached panel, so counting never needs a join. `day` is whole UTC days since 1970,
written with the row, so daily charts group the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table

from recommender.metrics.tokens import DEFAULT_PANEL
from recommender.store.tables import ID_LENGTH

VERSION_LENGTH = 100
TOKEN_LENGTH = 64
ARM_LENGTH = 20
SURFACE_LENGTH = 10
PANEL_LENGTH = 30
ACTIVE = 1  # experiments.active while running; NULL once stopped (unique: one experiment at a time)

metadata = MetaData()


def _row_id() -> Column:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


def _panel_columns() -> list:
    """What impressions and clicks both record of the panel shown: which list, which version (and arm)
    answered, on which surface, for which item and visitor, and when."""
    return [Column("version", String(VERSION_LENGTH), nullable=False),
            Column("arm", String(ARM_LENGTH), nullable=True),
            Column("experiment_id", String(TOKEN_LENGTH), nullable=True),
            Column("surface", String(SURFACE_LENGTH), nullable=False),
            Column("panel", String(PANEL_LENGTH), nullable=False, server_default=DEFAULT_PANEL),
            Column("source_item", String(ID_LENGTH), nullable=False),
            Column("visitor", String(ID_LENGTH), nullable=False),
            Column("at", Float, nullable=False),
            Column("day", Integer, nullable=False)]


impressions = Table(
    "impressions", metadata,
    _row_id(),
    Column("impression_id", String(TOKEN_LENGTH), nullable=False),
    *_panel_columns(),
    Column("k", Integer, nullable=False),
    Column("shown", JSON, nullable=False),
    Column("shown_count", Integer, nullable=False),
    Index("ix_impressions_version_day", "version", "day"),
    Index("ix_impressions_experiment", "experiment_id"),
    Index("ix_impressions_panel_version", "panel", "version"),
)

clicks = Table(
    "clicks", metadata,
    _row_id(),
    Column("impression_id", String(TOKEN_LENGTH), nullable=False),
    *_panel_columns(),
    Column("position", Integer, nullable=False),
    Column("item_id", String(ID_LENGTH), nullable=False),
    Column("bot", Boolean, nullable=False),
    Index("ix_clicks_version_day", "version", "day"),
    Index("ix_clicks_experiment", "experiment_id"),
    Index("ix_clicks_panel_version", "panel", "version"),
)

experiments = Table(
    "experiments", metadata,
    Column("id", String(TOKEN_LENGTH), primary_key=True),
    Column("control", String(VERSION_LENGTH), nullable=False),
    Column("challenger", String(VERSION_LENGTH), nullable=False),
    Column("share", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float, nullable=True),
    Column("promoted", String(VERSION_LENGTH), nullable=True),
    Column("active", Integer, nullable=True, unique=True),
)

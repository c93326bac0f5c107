"""Impressions, clicks and experiments (issue 14: panel metrics and A/B tests).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _shown_columns() -> list[sa.Column]:
    """What impressions and clicks both record about the panel."""
    return [sa.Column("impression_id", sa.String(64), nullable=False),
            sa.Column("version", sa.String(100), nullable=False),
            sa.Column("arm", sa.String(20), nullable=True),
            sa.Column("experiment_id", sa.String(64), nullable=True),
            sa.Column("source_item", sa.String(200), nullable=False),
            sa.Column("surface", sa.String(10), nullable=False),
            sa.Column("visitor", sa.String(200), nullable=False),
            sa.Column("at", sa.Float, nullable=False),
            sa.Column("day", sa.Integer, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        *_shown_columns(),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("shown", sa.JSON, nullable=False),
        sa.Column("shown_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_impressions_version_day", "impressions", ["version", "day"])
    op.create_index("ix_impressions_experiment", "impressions", ["experiment_id"])
    op.create_table(
        "clicks",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        *_shown_columns(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("bot", sa.Boolean, nullable=False),
    )
    op.create_index("ix_clicks_version_day", "clicks", ["version", "day"])
    op.create_index("ix_clicks_experiment", "clicks", ["experiment_id"])
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("control", sa.String(100), nullable=False),
        sa.Column("challenger", sa.String(100), nullable=False),
        sa.Column("share", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("stopped_at", sa.Float, nullable=True),
        sa.Column("promoted", sa.String(100), nullable=True),
        sa.Column("active", sa.Integer, nullable=True),
        sa.UniqueConstraint("active", name="uq_experiments_active"),
    )


def downgrade() -> None:
    op.drop_table("experiments")
    op.drop_index("ix_clicks_experiment", table_name="clicks")
    op.drop_index("ix_clicks_version_day", table_name="clicks")
    op.drop_table("clicks")
    op.drop_index("ix_impressions_experiment", table_name="impressions")
    op.drop_index("ix_impressions_version_day", table_name="impressions")
    op.drop_table("impressions")

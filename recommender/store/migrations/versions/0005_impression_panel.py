"""impressions.panel and clicks.panel: which list a counted panel was (issue 24: similar, for-you, trending,
bought-together, ...), so CTR is counted per list. Rows written before it were all similar panels.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("impressions", "clicks")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("panel", sa.String(30), nullable=False, server_default="similar"))
        op.create_index(f"ix_{table}_panel_version", table, ["panel", "version"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_panel_version", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("panel")

"""removed_items: ids deleted or hidden since, so every web process can drop them from answers at once.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "removed_items",
        sa.Column("item_id", sa.String(200), primary_key=True),
        sa.Column("removed_at", sa.Float, nullable=False),
    )
    state = sa.table("store_state", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(state, [{"key": "removed_revision", "value": "0"}])


def downgrade() -> None:
    op.execute("DELETE FROM store_state WHERE key = 'removed_revision'")
    op.drop_table("removed_items")

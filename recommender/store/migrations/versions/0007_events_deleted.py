"""The events_deleted state key: bumped whenever stored events are deleted (a user forgotten, a replace upload),
so a web process can tell from one small read whether any visitor's history changed (with the events' newest id,
which every insert raises).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = sa.table("store_state", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(state, [{"key": "events_deleted", "value": "0"}])


def downgrade() -> None:
    op.execute("DELETE FROM store_state WHERE key = 'events_deleted'")

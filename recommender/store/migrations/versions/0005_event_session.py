"""events.session_id: the order, basket or session an event belongs to (issue 24), so the build can count
the items bought together. Optional: rows stored before this have none.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("session_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("session_id")

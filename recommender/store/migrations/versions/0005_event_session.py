"""events.session_id: the order, basket or session an event belongs to (issue 24), so the build can count
the items bought together. Optional: rows stored before this have none.

It follows 0005 (impressions.panel, from the fy-panels tag this branch merged), not 0004 beside it: two
revisions on one parent would leave the store with two heads.

Revision ID: 0005_event_session
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_event_session"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("session_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("session_id")

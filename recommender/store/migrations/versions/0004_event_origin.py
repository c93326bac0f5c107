"""events.origin: which events came from uploaded interactions files (issue 22), so a replace upload
replaces those and keeps what the events API received; and the catalog_release state key.

Rows stored before this are told apart by their event ids: upload rows were always "import-<hash>".

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("origin", sa.String(10), nullable=False, server_default="api"))
    op.execute("UPDATE events SET origin = 'upload' WHERE event_id LIKE 'import-%'")
    op.create_index("ix_events_origin", "events", ["origin"])
    state = sa.table("store_state", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(state, [{"key": "catalog_release", "value": None}])


def downgrade() -> None:
    op.execute("DELETE FROM store_state WHERE key = 'catalog_release'")
    op.drop_index("ix_events_origin", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("origin")

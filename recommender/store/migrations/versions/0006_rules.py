"""rules and rule_changes: merchandising rules applied at serving time (issue 25), with who changed them and
when; the rules_revision state key that web processes poll.

Revision ID: 0006
Revises: 0005_event_session
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005_event_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "rule_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON, nullable=True),
        sa.Column("changed_at", sa.Float, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_rule_changes_changed_at", "rule_changes", ["changed_at"])
    state = sa.table("store_state", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(state, [{"key": "rules_revision", "value": "0"}])


def downgrade() -> None:
    op.execute("DELETE FROM store_state WHERE key = 'rules_revision'")
    op.drop_index("ix_rule_changes_changed_at", table_name="rule_changes")
    op.drop_table("rule_changes")
    op.drop_table("rules")

"""durable inbox of Telegram updates (issue 13)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_update",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_key", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", db.base.UTCDateTime(), nullable=False),
        sa.Column("locked_until", db.base.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("received_at", db.base.UTCDateTime(), nullable=False),
        sa.Column("handled_at", db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbound_update")),
    )
    with op.batch_alter_table("inbound_update", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_update_due", ["status", "not_before"], unique=False)
        batch_op.create_index("ix_inbound_update_chat", ["chat_key", "update_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_update", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_update_chat")
        batch_op.drop_index("ix_inbound_update_due")
    op.drop_table("inbound_update")

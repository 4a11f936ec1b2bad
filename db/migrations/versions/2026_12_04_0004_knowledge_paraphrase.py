"""knowledge_paraphrase: residents' wordings mapped to a topic by staff (issue 14)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_paraphrase",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("question_log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff_user.id"],
                                name=op.f("fk_knowledge_paraphrase_created_by_id_staff_user")),
        sa.ForeignKeyConstraint(["question_log_id"], ["question_log.id"], ondelete="SET NULL",
                                name=op.f("fk_knowledge_paraphrase_question_log_id_question_log")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_paraphrase")),
    )
    with op.batch_alter_table("knowledge_paraphrase", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_paraphrase_question_log_id"), ["question_log_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("knowledge_paraphrase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_paraphrase_question_log_id"))
    op.drop_table("knowledge_paraphrase")

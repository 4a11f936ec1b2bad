"""Issue 16: the console language of each staff member (``staff_user.language``, default "zh_Hans").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="zh_Hans", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("language")

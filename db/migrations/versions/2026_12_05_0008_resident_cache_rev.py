"""Issue 13: ``resident.cache_rev``, the version a process checks its cached resident against.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resident") as batch:
        batch.add_column(sa.Column("cache_rev", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("resident") as batch:
        batch.drop_column("cache_rev")

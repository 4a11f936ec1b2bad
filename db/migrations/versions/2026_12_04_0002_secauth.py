"""Issue 12 (identity side): service identities for API tokens, revocable sessions, keyed bill-code hashes.

* ``staff_user.kind`` ("person" | "service") and ``staff_user.session_gen`` (bumped to revoke sessions).
* ``api_token.staff_id``: every existing token gets its own service staff row (role and name of the token), so
  ownership checks and the audit log see a real identity; ``api_token.last_used_at``.
* ``utility_account.bill_code_hash``: unsalted SHA-256 -> HMAC-SHA256 keyed by the secret key. The code space
  is 6 digits, so the old hash is inverted by hashing the 10^6 candidates once into a table (about a second),
  and each row is re-keyed now rather than on its next link: waiting would leave the tableable hashes in the
  database (and in every backup) indefinitely. A hash that matches no 6-digit code is cleared (that account
  links by phone until the next billing import brings its code again). Downgrade converts back the same way.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _key() -> bytes:
    from core import keys
    from core.settings import Settings

    url = op.get_bind().engine.url.render_as_string(hide_password=False)
    return keys.bill_code_key(keys.resolve_secret_key(Settings(database_url=url)))


def _convert(old: Callable[[str], str], new: Callable[[str], str]) -> None:
    conn = op.get_bind()
    account = sa.table("utility_account", sa.column("id", sa.Integer), sa.column("bill_code_hash", sa.String))
    rows = conn.execute(sa.select(account.c.id, account.c.bill_code_hash)
                        .where(account.c.bill_code_hash.is_not(None))).all()
    if not rows:
        return
    # One pass over the whole code space, keyed by a 64-bit prefix of the digest (compact: ~10^6 ints).
    table = {int(old(f"{n:06d}")[:16], 16): n for n in range(1_000_000)}
    lost = 0
    for row_id, digest in rows:
        n = table.get(int(digest[:16], 16)) if len(digest) == 64 else None
        code = f"{n:06d}" if n is not None else None
        if code is None or old(code) != digest:
            lost += 1
            value = None
        else:
            value = new(code)
        conn.execute(account.update().where(account.c.id == row_id).values(bill_code_hash=value))
    if lost:
        log.warning("%d bill-code hash(es) matched no 6-digit code and were cleared", lost)


def upgrade() -> None:
    from core import keys

    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="person", nullable=False))
        batch.add_column(sa.Column("session_gen", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.add_column(sa.Column("last_used_at", db.base.UTCDateTime(), nullable=True))

    conn = op.get_bind()
    staff = sa.table("staff_user", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("display_name", sa.String), sa.column("password_hash", sa.String),
                     sa.column("role", sa.String), sa.column("active", sa.Boolean),
                     sa.column("failed_logins", sa.Integer), sa.column("created_at", db.base.UTCDateTime()),
                     sa.column("kind", sa.String))
    token = sa.table("api_token", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("role", sa.String), sa.column("revoked_at", db.base.UTCDateTime()),
                     sa.column("staff_id", sa.Integer))
    taken = {u for (u,) in conn.execute(sa.select(staff.c.username))}
    now = datetime.now(UTC)
    for tid, name, role, revoked in conn.execute(
            sa.select(token.c.id, token.c.name, token.c.role, token.c.revoked_at).order_by(token.c.id)).all():
        username = f"token:{name}"[:64]
        if username in taken:
            username = f"token:{name}"[:56] + f"#{tid}"
        taken.add(username)
        sid = conn.execute(staff.insert().values(
            username=username, display_name=f"{name} (API token)"[:128], password_hash="!service",
            role=role, active=revoked is None, failed_logins=0, created_at=now, kind="service",
        ).returning(staff.c.id)).scalar_one()
        conn.execute(token.update().where(token.c.id == tid).values(staff_id=sid))

    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("staff_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                           nullable=False)
        batch.create_foreign_key(batch.f("fk_api_token_staff_id_staff_user"), "staff_user", ["staff_id"], ["id"])

    key = _key_if_needed()
    if key is not None:
        _convert(keys.legacy_bill_code_hash, lambda code: keys.bill_code_hmac(key, code))


def _key_if_needed() -> bytes | None:
    conn = op.get_bind()
    count = conn.execute(sa.text("SELECT count(*) FROM utility_account WHERE bill_code_hash IS NOT NULL")).scalar()
    return _key() if count else None


def downgrade() -> None:
    from core import keys

    key = _key_if_needed()
    if key is not None:
        _convert(lambda code: keys.bill_code_hmac(key, code), keys.legacy_bill_code_hash)
    with op.batch_alter_table("api_token") as batch:
        batch.drop_constraint("fk_api_token_staff_id_staff_user", type_="foreignkey")
        batch.drop_column("last_used_at")
        batch.drop_column("staff_id")
    # Service staff rows stay (the audit log and ticket events point at them); with no password they cannot log in.
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("session_gen")
        batch.drop_column("kind")

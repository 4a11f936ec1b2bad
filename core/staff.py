"""Staff accounts and authentication (argon2 hashes, lock-out after repeated failures)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.enums import ROLE_RANK, StaffRole
from db.models import ApiToken, StaffUser

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so timing does not reveal valid usernames."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def has_role(role: StaffRole, needed: StaffRole) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[needed]


async def create_staff(
    session: AsyncSession, *, username: str, display_name: str, role: StaffRole, password: str, now: datetime
) -> StaffUser:
    user = StaffUser(
        username=username, display_name=display_name, role=role, password_hash=hash_password(password),
        active=True, failed_logins=0, created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def count_staff(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(StaffUser))).scalar_one()


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    locked: bool = False


async def authenticate(
    session: AsyncSession, *, username: str, password: str, now: datetime, max_failures: int, lock_seconds: int
) -> LoginResult:
    """Check a password; too many failures lock the account for ``lock_seconds``."""
    user = (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        return LoginResult(None)
    if user.locked_until and user.locked_until > now:
        return LoginResult(None, locked=True)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lock_seconds)
            user.failed_logins = 0
            audit.record(session, at=now, staff_id=user.id, action="login.locked", target_type="staff",
                         target_id=user.id)
        await session.commit()
        return LoginResult(None, locked=user.locked_until is not None and user.locked_until > now)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, at=now, staff_id=user.id, action="login", target_type="staff", target_id=user.id)
    await session.commit()
    return LoginResult(user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_token(session: AsyncSession, *, name: str, role: StaffRole, now: datetime) -> str:
    """Create an integration token; the plain token is returned once and never stored."""
    token = "ost_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_hash(token), role=role, created_at=now))
    await session.flush()
    return token


async def token_role(session: AsyncSession, token: str) -> tuple[ApiToken | None, StaffRole | None]:
    row = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None, None
    return row, row.role

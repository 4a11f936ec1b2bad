"""Staff accounts, API-token service identities, authentication (argon2), ownership and revocation (issue 12)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from db.enums import ROLE_RANK, StaffRole
from db.models import ApiToken, StaffUser

_hasher = PasswordHasher()


_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    """Verified against when there is no usable account, so timing reveals neither usernames nor locks (F6).
    Made with the current hasher's parameters, so it costs exactly what a real verification costs."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def burn_hash_time(password: str) -> None:
    """Spend one password verification's worth of time (for refusals that need no database)."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def has_role(role: StaffRole, needed: StaffRole) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[needed]


async def create_staff(
    session: AsyncSession, *, username: str, display_name: str, role: StaffRole, password: str, now: datetime
) -> StaffUser:
    if username.startswith("token:"):
        raise StaffError("usernames starting with 'token:' are reserved for API tokens")
    user = StaffUser(
        username=username, display_name=display_name, role=role, password_hash=hash_password(password),
        active=True, failed_logins=0, created_at=now, kind=PERSON, session_gen=0,
    )
    session.add(user)
    await session.flush()
    return user


async def count_staff(session: AsyncSession) -> int:
    return (await session.execute(
        select(func.count()).select_from(StaffUser).where(StaffUser.kind == PERSON))).scalar_one()


PERSON = "person"
SERVICE = "service"  # the identity of an API token (issue 12 F2): owns things, cannot log in
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)  # last_used_at is written at most once a minute per token


def owns(owner_id: int | None, staff: StaffUser | None) -> bool:
    """True only for a real owner id equal to a real staff id: ``None == None`` never passes (issue 12 F2).

    Every ownership check in core goes through this helper or :func:`may_act_on`."""
    return owner_id is not None and staff is not None and staff.id is not None and owner_id == staff.id


def may_act_on(owner_id: int | None, staff: StaffUser | None) -> bool:
    """R6 for people and tokens alike: the owner, or a supervisor/admin; an unowned case is anyone's who has a
    real identity (acting on it makes them the owner). An identity without an id never acts."""
    if staff is None or staff.id is None:
        return False
    if owner_id is None:
        return True
    return owns(owner_id, staff) or has_role(staff.role, StaffRole.supervisor)


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None


async def authenticate(session: AsyncSession, *, username: str, password: str, now: datetime) -> LoginResult:
    """Check a password. Every refusal costs one argon2 verification (F6: an unknown, inactive or service
    account is verified against a dummy hash). Throttling happens before this, in core.throttle."""
    user = (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
    if user is None or not user.active or user.kind != PERSON:
        burn_hash_time(password)
        return LoginResult(None)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, at=now, staff_id=user.id, action="login", target_type="staff", target_id=user.id)
    await session.commit()
    return LoginResult(user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # a 256-bit random token needs no salt or stretching


class StaffError(ValueError):
    """A staff-administration request that cannot be done; the message is for the person asking."""


def token_username(name: str) -> str:
    return f"token:{name}"


async def create_api_token(session: AsyncSession, *, name: str, role: StaffRole, now: datetime,
                           actor_id: int | None = None) -> str:
    """Create an integration token with its own service identity; the plain token is returned once, never
    stored. Flushes; the caller commits."""
    name = name.strip()
    if not name or len(name) > 48:
        raise StaffError("a token name needs 1 to 48 characters")
    username = token_username(name)
    if (await session.execute(select(StaffUser.id).where(StaffUser.username == username))).first():
        raise StaffError(f"a token named {name!r} already exists; revoke it or choose another name")
    service = StaffUser(username=username, display_name=f"{name} (API token)", role=role, password_hash="!service",
                        active=True, failed_logins=0, created_at=now, kind=SERVICE, session_gen=0)
    session.add(service)
    await session.flush()
    token = "ost_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_hash(token), role=role, created_at=now, staff_id=service.id))
    audit.record(session, at=now, staff_id=actor_id, action="token.create", target_type="staff",
                 target_id=service.id, name=name, role=role.value)
    await session.flush()
    return token


async def token_identity(session: AsyncSession, token: str, *, now: datetime) -> StaffUser | None:
    """The service identity behind a live token, or None. Records the last use at most once a minute."""
    row = (await session.execute(
        select(ApiToken, StaffUser).join(StaffUser, StaffUser.id == ApiToken.staff_id)
        .where(ApiToken.token_hash == token_hash(token))
    )).first()
    if row is None:
        return None
    tok, user = row
    if tok.revoked_at is not None or not user.active or user.kind != SERVICE:
        return None
    if tok.last_used_at is None or now - tok.last_used_at >= TOKEN_TOUCH_INTERVAL:
        tok.last_used_at = now
        await session.commit()
    return user


# --- revocation (issue 12 F5) -------------------------------------------------------------------------------
MIN_PASSWORD = 10


async def _person(session: AsyncSession, username: str | None, staff_id: int | None) -> StaffUser:
    """A person by username (CLI) or id (console)."""
    query = select(StaffUser).where(StaffUser.kind == PERSON)
    if staff_id is not None:
        query = query.where(StaffUser.id == staff_id)
    else:
        query = query.where(StaffUser.username == (username or "").strip())
    user = (await session.execute(query)).scalar_one_or_none()
    if user is None:
        raise StaffError(f"no staff member named {(username or '').strip()!r}" if staff_id is None
                         else "no such staff member")
    return user


def end_sessions(user: StaffUser) -> None:
    """Every console session of ``user`` is refused from its next request on (cookies carry the generation)."""
    user.session_gen = (user.session_gen or 0) + 1


async def deactivate_staff(session: AsyncSession, *, now: datetime, username: str | None = None,
                           staff_id: int | None = None, actor_id: int | None = None) -> StaffUser:
    """Deactivate a person and end their sessions at once. The last active admin cannot be deactivated. Commits."""
    user = await _person(session, username, staff_id)
    if user.role is StaffRole.admin and user.active:
        admins = (await session.execute(select(func.count()).select_from(StaffUser).where(
            StaffUser.role == StaffRole.admin, StaffUser.active.is_(True), StaffUser.kind == PERSON))).scalar_one()
        if admins <= 1:
            raise StaffError("this is the last active admin; create another admin first")
    user.active = False
    end_sessions(user)
    audit.record(session, at=now, staff_id=actor_id, action="staff.deactivate", target_type="staff",
                 target_id=user.id)
    await session.commit()
    return user


async def reset_password(session: AsyncSession, *, now: datetime, username: str | None = None,
                         staff_id: int | None = None, actor_id: int | None = None) -> tuple[StaffUser, str]:
    """A new random password (returned once) and the end of every session of that person. Commits."""
    user = await _person(session, username, staff_id)
    password = new_password()
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit.record(session, at=now, staff_id=actor_id, action="staff.reset_password", target_type="staff",
                 target_id=user.id)
    await session.commit()
    return user, password


async def change_own_password(session: AsyncSession, *, user: StaffUser, current: str, new: str,
                              now: datetime) -> None:
    """Check the current password, set the new one and end the person's other sessions (the caller re-issues
    its own cookie with the new generation). Commits."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise StaffError("The current password is not correct.") from None
    if len(new) < MIN_PASSWORD or len(new) > 256:
        raise StaffError(f"The new password needs {MIN_PASSWORD} to 256 characters.")
    if new == current:
        raise StaffError("The new password must differ from the current one.")
    user.password_hash = hash_password(new)
    end_sessions(user)
    audit.record(session, at=now, staff_id=user.id, action="staff.change_password", target_type="staff",
                 target_id=user.id)
    await session.commit()


async def revoke_token(session: AsyncSession, *, now: datetime, name: str | None = None,
                       token_id: int | None = None, actor_id: int | None = None) -> int:
    """Revoke the token(s) of that name (or that id); the next request with it is refused. Returns how many.
    Commits."""
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    query = query.where(ApiToken.id == token_id) if token_id is not None else query.where(
        ApiToken.name == (name or "").strip())
    rows = list((await session.execute(query)).scalars())
    if not rows:
        raise StaffError("no live token of that name" if token_id is None else "that token is already revoked")
    for tok in rows:
        tok.revoked_at = now
        service = await session.get(StaffUser, tok.staff_id)
        if service is not None:
            service.active = False  # the identity stays for the audit log, but acts no more
        audit.record(session, at=now, staff_id=actor_id, action="token.revoke", target_type="staff",
                     target_id=tok.staff_id, name=tok.name)
    await session.commit()
    return len(rows)


async def people(session: AsyncSession) -> list[StaffUser]:
    return list((await session.execute(
        select(StaffUser).where(StaffUser.kind == PERSON).order_by(StaffUser.active.desc(), StaffUser.username)
    )).scalars())


async def tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.execute(
        select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.name)
    )).scalars())

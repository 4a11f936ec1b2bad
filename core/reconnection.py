"""R11 arrears: supply is cut no earlier than 3 days after the payment notice; after paying, the resident
registers for reconnection and is served in order of registration.

The queue is one table (``reconnection_request``): waiting rows ordered by registration time. Residents see
their position in the bot; operators see the queue in the console and can only serve its head, so nobody is
reconnected ahead of someone who registered earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, ledger, outbox
from core.alerts import ARREARS, CUTOFF_AFTER_NOTICE
from core.context import AppContext
from core.tickets.base import InvalidInput, NotAllowed, TransitionError, publish
from db.enums import AccountState
from db.models import AlertLog, ReconnectionRequest, Resident, StaffUser, UtilityAccount


def N_(message: str) -> str:
    return message


class Status(StrEnum):
    waiting = "waiting"
    served = "served"
    cancelled = "cancelled"


RECONNECTED = N_("🔌 Your supply for account {number} has been reconnected. Thank you for settling the bill.")


@dataclass(frozen=True)
class Place:
    request: ReconnectionRequest
    position: int  # 1 = next to be served
    ahead: int


async def waiting_for(session: AsyncSession, account_id: int) -> ReconnectionRequest | None:
    q = select(ReconnectionRequest).where(ReconnectionRequest.account_id == account_id,
                                          ReconnectionRequest.status == Status.waiting)
    return (await session.execute(q.limit(1))).scalar_one_or_none()


async def position(session: AsyncSession, request: ReconnectionRequest) -> Place:
    """Where this registration stands: everyone waiting who registered earlier is ahead of it."""
    earlier = or_(ReconnectionRequest.registered_at < request.registered_at,
                  and_(ReconnectionRequest.registered_at == request.registered_at,
                       ReconnectionRequest.id < request.id))
    ahead = (await session.execute(select(func.count()).select_from(ReconnectionRequest).where(
        ReconnectionRequest.status == Status.waiting, earlier))).scalar_one()
    return Place(request, ahead + 1, ahead)


async def register(session: AsyncSession, *, ctx: AppContext, account: UtilityAccount,
                   resident: Resident | None) -> Place:
    """R11: after paying, register for reconnection (once; registering again keeps the first place). Commits."""
    if account.state is not AccountState.sealed:
        raise InvalidInput("this account's supply is not cut off; there is nothing to reconnect")
    existing = await waiting_for(session, account.id)
    if existing is not None:
        return await position(session, existing)
    if await ledger.balance_fen(session, account.id) < 0:
        raise TransitionError("the arrears must be paid before registering for reconnection (R11)")
    now = ctx.clock.now()
    row = ReconnectionRequest(account_id=account.id, resident_id=resident.id if resident else None,
                              registered_at=now, status=Status.waiting.value)
    session.add(row)
    await session.flush()
    place = await position(session, row)
    await session.commit()
    await publish(ctx, "reconnection", action="registered", account=account.number)
    return place


@dataclass(frozen=True)
class QueueRow:
    request: ReconnectionRequest
    account: UtilityAccount
    position: int


async def queue(session: AsyncSession, *, limit: int = 500) -> list[QueueRow]:
    """The waiting list, in order of registration (the order they are served in)."""
    rows = await session.execute(
        select(ReconnectionRequest, UtilityAccount).join(UtilityAccount,
                                                         UtilityAccount.id == ReconnectionRequest.account_id)
        .where(ReconnectionRequest.status == Status.waiting)
        .order_by(ReconnectionRequest.registered_at, ReconnectionRequest.id).limit(limit))
    return [QueueRow(r, a, n) for n, (r, a) in enumerate(rows.all(), start=1)]


async def serve(session: AsyncSession, *, ctx: AppContext, request_id: int, staff: StaffUser) -> ReconnectionRequest:
    """Reconnect the head of the queue; anyone else must wait their turn (R11). Tells the resident. Commits."""
    row = await session.get(ReconnectionRequest, request_id)
    if row is None or row.status != Status.waiting:
        raise InvalidInput("no such waiting registration")
    head = await queue(session, limit=1)
    if head and head[0].request.id != row.id:
        raise NotAllowed(f"R11: reconnections are made in order of registration; account "
                         f"{head[0].account.number} registered earlier and is served first")
    account = await session.get_one(UtilityAccount, row.account_id)
    now = ctx.clock.now()
    row.status, row.served_at, row.served_by_id = Status.served.value, now, staff.id
    account.state = AccountState.connected
    audit.record(session, at=now, staff_id=staff.id, action="account.reconnect", target_type="account",
                 target_id=account.number, registered_at=row.registered_at.isoformat())
    if row.resident_id is not None:
        resident = await session.get(Resident, row.resident_id)
        lang = resident.language if resident else None
        text = ctx.translator.gettext(lang, RECONNECTED).format(number=account.number)
        outbox.enqueue(session, resident_id=row.resident_id, kind="account.reconnected", now=now,
                       payload=outbox.message_payload(text), dedupe_key=f"reconnected:{row.id}")
    await session.commit()
    await publish(ctx, "reconnection", action="served", account=account.number)
    return row


async def earliest_cutoff(session: AsyncSession, account_id: int, *, since: datetime | None) -> datetime | None:
    """R11: the supply may be cut no earlier than 3 days after the first payment notice of these arrears;
    None when no notice has been sent for them."""
    q = select(func.min(AlertLog.created_at)).where(AlertLog.account_id == account_id, AlertLog.kind == ARREARS)
    if since is not None:
        q = q.where(AlertLog.created_at >= since)
    first = (await session.execute(q)).scalar_one()
    return first + CUTOFF_AFTER_NOTICE if first is not None else None


async def seal_for_arrears(session: AsyncSession, *, ctx: AppContext, account: UtilityAccount,
                           staff: StaffUser) -> UtilityAccount:
    """R11: cut the supply for arrears, only once the payment notice is at least 3 days old. Commits."""
    if account.state is not AccountState.connected:
        raise TransitionError(f"only a connected account can be cut off (this one is {account.state.value})")
    if await ledger.balance_fen(session, account.id) >= 0:
        raise TransitionError("this account has no arrears")
    since = await ledger.arrears_since(session, account.id)
    allowed = await earliest_cutoff(session, account.id, since=since)
    now = ctx.clock.now()
    if allowed is None:
        raise TransitionError("R11: no payment notice has been sent for these arrears yet; the supply can be cut "
                              "no earlier than 3 days after it")
    if now < allowed:
        raise TransitionError(f"R11: the supply can be cut no earlier than 3 days after the payment notice, "
                              f"i.e. from {allowed.isoformat(timespec='minutes')}")
    account.state = AccountState.sealed
    audit.record(session, at=now, staff_id=staff.id, action="account.seal_arrears", target_type="account",
                 target_id=account.number)
    await session.commit()
    return account

"""Broadcasts: one message fanned out to many residents through the outbox.

A broadcast is a ``broadcast`` row plus one outbox row per resident (``broadcast_id`` set, a ``dedupe_key``
so the same resident cannot get the same update twice). Senders skip the rows of a paused or cancelled
broadcast when they claim work, so pause takes effect within one batch; cancel also withdraws every row
not yet sent. Progress is counted from the outbox rows themselves, so every sender process and every
console page sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, outbox
from db.enums import BroadcastStatus, OutboxStatus
from db.models import Broadcast, OutboxNotification, StaffUser
from db.session import dialect_name, rowcount

# Broadcast rows go after individual notifications (a staff reply must not wait behind 20,000 notices).
BROADCAST_PRIORITY = -10
RATE_WINDOW = timedelta(seconds=60)


class BroadcastError(ValueError):
    """A pause/resume/cancel that does not apply to the broadcast's state."""


async def fan_out(
    session: AsyncSession,
    *,
    title: str,
    kind: str,
    recipients: Sequence[tuple[int, str]],
    payloads: Mapping[str, dict[str, Any]],
    now: datetime,
    staff_id: int | None,
    dedupe_prefix: str,
    outage_event_id: int | None = None,
    priority: int = BROADCAST_PRIORITY,
) -> Broadcast:
    """Create a broadcast with one outbox row per (resident id, language) in the caller's transaction."""
    bc = Broadcast(outage_event_id=outage_event_id, title=title[:255], status=BroadcastStatus.running,
                   total=len(recipients), created_by_id=staff_id, created_at=now)
    session.add(bc)
    await session.flush()
    await outbox.enqueue_many(
        session,
        [(rid, payloads[lang], f"{dedupe_prefix}:{rid}") for rid, lang in recipients],
        kind=kind, now=now, broadcast_id=bc.id, priority=priority,
    )
    if not recipients:
        bc.status = BroadcastStatus.done
        bc.finished_at = now
    return bc


@dataclass(frozen=True)
class Progress:
    id: int
    title: str
    status: BroadcastStatus
    total: int
    sent: int
    pending: int
    failed: int
    blocked: int
    cancelled: int
    rate: float | None  # messages per second over the last minute
    eta_seconds: float | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.blocked + self.cancelled

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.handled / self.total)


async def progress(session: AsyncSession, broadcast_id: int, *, now: datetime) -> Progress | None:
    bc = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if bc is None:
        return None
    counts = dict.fromkeys(OutboxStatus, 0)
    rows = await session.execute(
        select(OutboxNotification.status, func.count()).where(OutboxNotification.broadcast_id == broadcast_id)
        .group_by(OutboxNotification.status)
    )
    for status, n in rows:
        counts[OutboxStatus(status)] = n
    recent = (await session.execute(
        select(func.count(), func.min(OutboxNotification.sent_at), func.max(OutboxNotification.sent_at))
        .where(OutboxNotification.broadcast_id == broadcast_id, OutboxNotification.status == OutboxStatus.sent,
               OutboxNotification.sent_at >= now - RATE_WINDOW)
    )).one()
    rate = None
    n, first, last = recent
    if n and n > 1 and first is not None and last is not None and last > first:
        rate = (n - 1) / (last - first).total_seconds()
    pending = counts[OutboxStatus.pending]
    eta = None
    if pending and rate and bc.status is BroadcastStatus.running:
        eta = pending / rate
    elif not pending:
        eta = 0.0
    return Progress(bc.id, bc.title, bc.status, bc.total, counts[OutboxStatus.sent], pending,
                    counts[OutboxStatus.failed], counts[OutboxStatus.blocked], counts[OutboxStatus.cancelled],
                    rate, eta, bc.created_at, bc.finished_at)


async def _get(session: AsyncSession, broadcast_id: int) -> Broadcast:
    q = select(Broadcast).where(Broadcast.id == broadcast_id).execution_options(populate_existing=True)
    if dialect_name(session) == "postgresql":
        q = q.with_for_update()
    bc = (await session.execute(q)).scalar_one_or_none()
    if bc is None:
        raise BroadcastError("No such broadcast · 群发不存在")
    return bc


async def pause(session: AsyncSession, *, broadcast_id: int, staff: StaffUser, now: datetime) -> Broadcast:
    """Stop handing this broadcast's rows to senders (rows already in a sender's batch still go). Commits."""
    bc = await _get(session, broadcast_id)
    if bc.status is not BroadcastStatus.running:
        raise BroadcastError("Only a running broadcast can be paused · 只能暂停进行中的群发")
    bc.status = BroadcastStatus.paused
    audit.record(session, at=now, staff_id=staff.id, action="broadcast.pause", target_type="broadcast",
                 target_id=bc.id)
    await session.commit()
    return bc


async def resume(session: AsyncSession, *, broadcast_id: int, staff: StaffUser, now: datetime) -> Broadcast:
    bc = await _get(session, broadcast_id)
    if bc.status is not BroadcastStatus.paused:
        raise BroadcastError("Only a paused broadcast can be resumed · 只能继续已暂停的群发")
    bc.status = BroadcastStatus.running
    audit.record(session, at=now, staff_id=staff.id, action="broadcast.resume", target_type="broadcast",
                 target_id=bc.id)
    await session.commit()
    return bc


async def cancel(session: AsyncSession, *, broadcast_id: int, staff: StaffUser, now: datetime) -> Broadcast:
    """Withdraw every message not yet sent; those already sent stay sent. Commits."""
    bc = await _get(session, broadcast_id)
    if bc.status not in (BroadcastStatus.running, BroadcastStatus.paused):
        raise BroadcastError("This broadcast has already ended · 该群发已结束")
    bc.status = BroadcastStatus.cancelled
    bc.finished_at = now
    res = await session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.broadcast_id == bc.id, OutboxNotification.status == OutboxStatus.pending)
        .values(status=OutboxStatus.cancelled, locked_until=None)
    )
    audit.record(session, at=now, staff_id=staff.id, action="broadcast.cancel", target_type="broadcast",
                 target_id=bc.id, withdrawn=rowcount(res))
    await session.commit()
    return bc


async def finish_done(session: AsyncSession, broadcast_ids: Iterable[int], *, now: datetime) -> list[int]:
    """Mark running broadcasts with nothing left pending as done (senders call this after a batch)."""
    ids = sorted(set(broadcast_ids))
    if not ids:
        return []
    still = select(OutboxNotification.broadcast_id).where(
        OutboxNotification.broadcast_id.in_(ids), OutboxNotification.status == OutboxStatus.pending
    )
    res = await session.execute(
        update(Broadcast)
        .where(Broadcast.id.in_(ids), Broadcast.status == BroadcastStatus.running, Broadcast.id.not_in(still))
        .values(status=BroadcastStatus.done, finished_at=now)
        .returning(Broadcast.id)
    )
    done = [r for (r,) in res]
    await session.commit()
    return done

"""The outbox: every push to a resident is a row written in the same transaction as its cause.

Claiming. A sender leases due rows with one statement (``UPDATE … WHERE id IN (SELECT … LIMIT n
FOR UPDATE SKIP LOCKED) RETURNING …`` on PostgreSQL; the same without the lock clause on SQLite, whose
write lock serialises it), so several sender processes share the work and no row is handed to two
senders. A batch holds at most one row per resident, and rows of a resident that already has a row
leased are left for later, which keeps one chat at one message at a time across senders. Rows of
paused or cancelled broadcasts are not claimed; rows of residents who blocked the bot are marked
``blocked`` instead of being sent.

Crash safety — the duplicate window. The lease is committed *before* anything is sent and each row is
marked sent in its own commit right after Telegram accepts it. If a sender dies (SIGKILL, power loss)
its leased rows become claimable again when the lease expires (``lease_seconds``, default 60 s; a
sender restarted with the same worker id takes its own rows back at once). So:

* no row is ever lost: an unmarked row is always sent again;
* the only possible duplicates are rows Telegram accepted but the dead sender had not yet marked,
  i.e. the messages in flight at the moment of the kill — at most one claimed batch
  (``SenderSettings.batch_size``, 50 by default), in practice the handful of HTTP requests open then.
  The sender bounds this with a semaphore: at most ``batch_size`` rows are in flight (claimed for sending
  and not yet marked) at any moment. It also holds up to two batches claimed ahead (to keep the pace
  without a gap); those rows were never sent, so after a kill they only wait for their lease — delayed,
  never duplicated.

A sender also never sends a row whose lease may have expired (it releases it instead), so a slow
sender cannot race the one that takes its rows over.

Pacing across processes. ``reserve_slot`` hands each batch a time slot from one shared row
(``send_gate``), so N senders together keep to the global rate, and a 429 received by any sender
pauses them all (``pause_gate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session

from core import resident_cache
from db.enums import BroadcastStatus, OutboxStatus
from db.models import Broadcast, OutboxNotification, Resident, SendGate
from db.session import dialect_name, rowcount

GATE = "telegram"

# Senders in this process are woken as soon as a transaction that added rows commits, instead of
# waiting for their next poll (a chat reply then reaches the resident in milliseconds, not ~0.5 s).
# Senders in other processes still poll.
_wakers: set[Callable[[], None]] = set()


def on_commit_wake(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after every commit that enqueued rows; returns the function that unregisters it."""
    _wakers.add(callback)
    return lambda: _wakers.discard(callback)


@event.listens_for(Session, "after_commit")
def _wake_senders(session: Session) -> None:
    if session.info.pop("outbox_added", False):
        for callback in list(_wakers):
            callback()


def _added(session: AsyncSession) -> None:
    session.info["outbox_added"] = True


def message_payload(
    text: str,
    *,
    buttons: list[list[dict[str, Any]]] | None = None,
    parse_mode: str | None = "HTML",
) -> dict[str, Any]:
    """Bot API sendMessage parameters (plain JSON; no Telegram library types in core)."""
    payload: dict[str, Any] = {"text": text}
    if parse_mode:
        payload["parse_mode"] = parse_mode
    if buttons:
        payload["reply_markup"] = {"inline_keyboard": buttons}
    return payload


def enqueue(
    session: AsyncSession,
    *,
    resident_id: int,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    method: str = "sendMessage",
    priority: int = 0,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxNotification:
    """Add a notification to the caller's transaction; it is sent only if that transaction commits."""
    row = OutboxNotification(
        resident_id=resident_id,
        kind=kind,
        method=method,
        payload=payload,
        status=OutboxStatus.pending,
        priority=priority,
        attempts=0,
        not_before=not_before or now,
        broadcast_id=broadcast_id,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    session.add(row)
    _added(session)
    return row


async def enqueue_many(
    session: AsyncSession,
    rows: Sequence[tuple[int, dict[str, Any], str | None]],
    *,
    kind: str,
    now: datetime,
    broadcast_id: int | None = None,
    priority: int = 0,
    method: str = "sendMessage",
) -> int:
    """Bulk form of ``enqueue`` for broadcasts: (resident id, payload, dedupe key) rows in one INSERT."""
    if not rows:
        return 0
    values = [
        {"resident_id": rid, "kind": kind, "method": method, "payload": payload, "status": OutboxStatus.pending,
         "priority": priority, "attempts": 0, "not_before": now, "broadcast_id": broadcast_id,
         "dedupe_key": key, "created_at": now}
        for rid, payload, key in rows
    ]
    for start in range(0, len(values), 5000):
        await session.execute(insert(OutboxNotification), values[start:start + 5000])
    _added(session)
    return len(values)


@dataclass(frozen=True)
class Claimed:
    id: int
    resident_id: int
    method: str
    payload: dict[str, Any]
    attempts: int
    broadcast_id: int | None


def _claim_columns() -> tuple[InstrumentedAttribute[Any], ...]:
    return (OutboxNotification.id, OutboxNotification.resident_id, OutboxNotification.method,
            OutboxNotification.payload, OutboxNotification.attempts, OutboxNotification.broadcast_id,
            OutboxNotification.priority)


async def claim_due(
    session: AsyncSession, *, now: datetime, worker: str, limit: int, lease_seconds: float = 60.0
) -> list[Claimed]:
    """Lease up to ``limit`` due rows (at most one per resident) to ``worker`` and commit the lease."""
    leased = OutboxNotification.__table__.alias("leased")
    busy_chats = select(leased.c.resident_id).where(
        leased.c.status == OutboxStatus.pending, leased.c.locked_until >= now
    )
    halted = select(Broadcast.id).where(Broadcast.status.in_((BroadcastStatus.paused, BroadcastStatus.cancelled)))
    due = and_(
        OutboxNotification.status == OutboxStatus.pending,
        OutboxNotification.not_before <= now,
        or_(OutboxNotification.locked_until.is_(None), OutboxNotification.locked_until < now),
        or_(OutboxNotification.broadcast_id.is_(None), OutboxNotification.broadcast_id.not_in(halted)),
        OutboxNotification.resident_id.not_in(busy_chats),
    )
    pick = (
        select(OutboxNotification.id)
        .where(due)
        .order_by(OutboxNotification.priority.desc(), OutboxNotification.id)
        .limit(limit)
    )
    if dialect_name(session) == "postgresql":
        # Lock the picked rows, skipping those another sender is claiming right now; the locks last until
        # the lease below commits.
        ids = list((await session.execute(pick.with_for_update(skip_locked=True, of=OutboxNotification))).scalars())
        if not ids:
            await session.commit()
            return []
        target = OutboxNotification.id.in_(ids)
    else:
        target = OutboxNotification.id.in_(pick.scalar_subquery())  # one statement under SQLite's write lock
    until = now + timedelta(seconds=lease_seconds)
    res = await session.execute(
        update(OutboxNotification)
        .where(target)
        .values(locked_until=until, locked_by=worker)
        .returning(*_claim_columns())
        .execution_options(synchronize_session=False)
    )
    rows = sorted(res.all(), key=lambda r: (-r.priority, r.id))
    batch: list[Claimed] = []
    extra: list[int] = []
    seen: set[int] = set()
    for r in rows:
        if r.resident_id in seen:  # one message per chat at a time
            extra.append(r.id)
            continue
        seen.add(r.resident_id)
        batch.append(Claimed(r.id, r.resident_id, r.method, dict(r.payload), r.attempts, r.broadcast_id))
    if extra:
        await session.execute(
            update(OutboxNotification).where(OutboxNotification.id.in_(extra))
            .values(locked_until=None, locked_by=None).execution_options(synchronize_session=False)
        )
    if seen:
        blocked = set((await session.execute(
            select(Resident.id).where(Resident.id.in_(seen), Resident.blocked.is_(True))
        )).scalars())
        if blocked:
            skip = [c.id for c in batch if c.resident_id in blocked]
            await session.execute(
                update(OutboxNotification).where(OutboxNotification.id.in_(skip))
                .values(status=OutboxStatus.blocked, last_error="resident blocked the bot", locked_until=None)
                .execution_options(synchronize_session=False)
            )
            batch = [c for c in batch if c.resident_id not in blocked]
    await session.commit()
    return batch


async def release_worker(session: AsyncSession, worker: str) -> int:
    """A sender (re)starting under ``worker`` takes back the rows it had leased before dying: none of them
    is in flight any more. Commits; returns how many."""
    res = await session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.locked_by == worker, OutboxNotification.status == OutboxStatus.pending,
               OutboxNotification.locked_until.is_not(None))
        .values(locked_until=None)
    )
    await session.commit()
    return rowcount(res) or 0


async def release(session: AsyncSession, row_id: int) -> None:
    """Give a leased row back untouched (its lease was about to expire before it could be sent)."""
    await session.execute(
        update(OutboxNotification).where(OutboxNotification.id == row_id, OutboxNotification.status ==
                                         OutboxStatus.pending).values(locked_until=None)
    )


async def mark_sent(session: AsyncSession, row_id: int, *, now: datetime, message_id: int | None) -> None:
    # Whatever the row's state (e.g. its broadcast was cancelled meanwhile), it *was* sent: record the truth.
    await session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.id == row_id)
        .values(status=OutboxStatus.sent, sent_at=now, telegram_message_id=message_id, locked_until=None,
                attempts=OutboxNotification.attempts + 1)
    )


async def mark_retry(session: AsyncSession, row_id: int, *, not_before: datetime, error: str, max_attempts: int,
                     count_attempt: bool = True) -> None:
    row = await session.get(OutboxNotification, row_id, populate_existing=True)
    if row is None or row.status is not OutboxStatus.pending:
        return
    if count_attempt:
        row.attempts += 1
    row.last_error = error[:255]
    row.locked_until = None
    row.not_before = not_before
    if row.attempts >= max_attempts:
        row.status = OutboxStatus.failed


async def mark_blocked(session: AsyncSession, row_id: int, resident_id: int, *, error: str) -> None:
    """The resident blocked the bot: mark this row and every pending one for them, and the resident."""
    await session.execute(
        update(OutboxNotification)
        .where(OutboxNotification.resident_id == resident_id, OutboxNotification.status == OutboxStatus.pending)
        .values(status=OutboxStatus.blocked, last_error=error[:255], locked_until=None)
    )
    await session.execute(
        update(OutboxNotification).where(OutboxNotification.id == row_id)
        .values(status=OutboxStatus.blocked, last_error=error[:255], locked_until=None)
    )
    await session.execute(update(Resident).where(Resident.id == resident_id).values(blocked=True))
    await resident_cache.bump(session, [resident_id])


async def mark_failed(session: AsyncSession, row_id: int, *, error: str) -> None:
    await session.execute(
        update(OutboxNotification).where(OutboxNotification.id == row_id)
        .values(status=OutboxStatus.failed, last_error=error[:255], locked_until=None,
                attempts=OutboxNotification.attempts + 1)
    )


async def pending_count(session: AsyncSession) -> int:
    q = select(func.count()).select_from(OutboxNotification).where(OutboxNotification.status == OutboxStatus.pending)
    return (await session.execute(q)).scalar_one()


async def status_counts(session: AsyncSession, ids: Iterable[int] | None = None) -> dict[str, int]:
    q = select(OutboxNotification.status, func.count()).group_by(OutboxNotification.status)
    if ids is not None:
        q = q.where(OutboxNotification.broadcast_id.in_(list(ids)))
    return {OutboxStatus(s).value: n for s, n in await session.execute(q)}


# --- pacing shared by all sender processes ---------------------------------------------------------------


async def _gate_row(session: AsyncSession, name: str, now: datetime) -> SendGate:
    # Write first: the UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so the
    # read-modify-write below cannot interleave with another sender's.
    for _ in range(3):
        res = await session.execute(update(SendGate).where(SendGate.name == name).values(name=name))
        if rowcount(res):
            q = select(SendGate).where(SendGate.name == name).execution_options(populate_existing=True)
            return (await session.execute(q)).scalar_one()
        try:
            async with session.begin_nested():
                session.add(SendGate(name=name, next_at=now, paused_until=None))
        except IntegrityError:
            continue
    raise RuntimeError("send gate row could not be created")


async def reserve_slot(session: AsyncSession, *, now: datetime, count: int, rate: float, name: str = GATE
                       ) -> datetime:
    """Reserve the time for ``count`` sends at ``rate``/s after every slot already handed out (and after any
    429 pause); returns when this sender may start. Commits."""
    gate = await _gate_row(session, name, now)
    start = max(now, gate.next_at, gate.paused_until or now)
    gate.next_at = start + timedelta(seconds=count / rate)
    await session.commit()
    return start


async def pause_gate(session: AsyncSession, *, until: datetime, name: str = GATE) -> None:
    """A 429 told us to wait until ``until``: every sender's next slot starts after it. Caller commits."""
    gate = await _gate_row(session, name, until)
    if gate.paused_until is None or gate.paused_until < until:
        gate.paused_until = until

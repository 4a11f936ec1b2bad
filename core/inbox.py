"""The durable inbox (issue 13): every Telegram update is stored before Telegram is told we have it.

Updates arrive as plain JSON dicts (webhook body or a getUpdates item) and are written here first; the
webhook answers 200, or the polling loop advances its offset, only after that commit. Workers then claim
rows, hand them to the Dispatcher (bot/delivery.py) and mark them done. Nothing here knows Telegram
library types: rows are dicts in, dicts out.

Guarantees:

* **Once.** ``update_id`` is the primary key and inserts ignore conflicts, so an update delivered twice
  (Telegram retries a webhook whose answer it missed; a poll repeated after a crash) is stored once.
* **Not lost.** A claim is a lease (``locked_until``) the worker renews while it works
  (``renew``); a worker killed with SIGKILL stops renewing, and its rows are claimed again when the
  lease runs out.
* **In order per resident, parallel across residents.** A row is claimable only when no earlier row
  of the same ``chat_key`` is still waiting or in progress; different chats never wait for each other.
* **Never dropped.** A row whose handler keeps failing is retried with exponential backoff, then
  *parked*: it stays in the table with its error, staff see it in the console (/console/inbox) and can
  retry it, and the resident is told their message arrived.

Claiming uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several processes never take the same row;
on SQLite the single ``UPDATE … RETURNING`` statement is serialised by SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import outbox
from core.context import AppContext
from core.i18n import Translator
from db.models import InboundUpdate, OutboxNotification, Resident
from db.session import dialect_name, rowcount

WAITING, WORKING, DONE, PARKED = "waiting", "working", "done", "parked"
MAX_ERROR = 2000

# Workers in this process wake as soon as an update is stored here instead of at their next poll.
_wakers: set[Callable[[], None]] = set()


def on_store_wake(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after ``store`` committed new rows; returns the function that unregisters it."""
    _wakers.add(callback)
    return lambda: _wakers.discard(callback)


def wake() -> None:
    for callback in list(_wakers):
        callback()


# Objects of an update that carry the user who caused it (Telegram's field names; JSON only).
_UPDATE_OBJECTS = (
    "message", "edited_message", "callback_query", "inline_query", "chosen_inline_result", "shipping_query",
    "pre_checkout_query", "poll_answer", "my_chat_member", "chat_member", "chat_join_request",
    "business_message", "edited_business_message", "message_reaction", "purchased_paid_media",
)


def chat_key(raw: dict[str, Any]) -> int | None:
    """The resident whose updates must be handled in order: the sender's user id, else the chat id."""
    for name in _UPDATE_OBJECTS:
        obj = raw.get(name)
        if not isinstance(obj, dict):
            continue
        for field in ("from", "user"):
            who = obj.get(field)
            if isinstance(who, dict) and isinstance(user_id := who.get("id"), int):
                return user_id
        chat = obj.get("chat")
        if isinstance(chat, dict) and isinstance(chat_id := chat.get("id"), int):
            return chat_id
    return None


def valid_update(raw: object) -> bool:
    """A JSON object with an integer ``update_id`` in Telegram's range (positive, below 2^63)."""
    return (isinstance(raw, dict) and type(raw.get("update_id")) is int
            and 0 <= raw["update_id"] < 2**63)


async def store(session: AsyncSession, updates: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Write updates (idempotent on ``update_id``) and commit; returns how many were new.

    The caller acknowledges the updates to Telegram only after this returns.
    """
    if not updates:
        return 0
    values = [
        {"update_id": u["update_id"], "chat_key": chat_key(u), "payload": u, "status": WAITING, "attempts": 0,
         "not_before": now, "received_at": now}
        for u in updates
    ]
    dialect = dialect_name(session)
    ins = pg_insert(InboundUpdate) if dialect == "postgresql" else sqlite_insert(InboundUpdate)
    stmt = ins.values(values).on_conflict_do_nothing(index_elements=["update_id"])
    result = await session.execute(stmt)
    await session.commit()
    new = max(rowcount(result) or 0, 0)
    if new:
        wake()
    return new


@dataclass(frozen=True)
class Claimed:
    update_id: int
    chat_key: int | None
    payload: dict[str, Any]
    attempts: int  # including this one
    resident_rev: int | None = None  # the resident's ``cache_rev`` at the claim (None: not a resident yet)


async def claim(session: AsyncSession, *, worker: str, now: datetime, limit: int,
                lease_seconds: float) -> list[Claimed]:
    """Lease up to ``limit`` due updates, at most one per chat and only each chat's earliest unfinished one."""
    if limit <= 0:
        return []
    # Aliases keep the subqueries from correlating with the UPDATE's own table.
    cand = aliased(InboundUpdate, name="cand")
    earlier = aliased(InboundUpdate, name="earlier")
    blocked_by_earlier = (
        select(earlier.update_id)
        .where(earlier.chat_key == cand.chat_key, earlier.update_id < cand.update_id,
               earlier.status.in_((WAITING, WORKING)))
        .exists()
    )
    due = or_(
        and_(cand.status == WAITING, cand.not_before <= now),
        and_(cand.status == WORKING, cand.locked_until < now),  # its worker died
    )
    pick = (
        select(cand.update_id)
        .where(due, or_(cand.chat_key.is_(None), ~blocked_by_earlier))
        .order_by(cand.update_id)
        .limit(limit)
    )
    if dialect_name(session) == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=cand)
    stmt = (
        update(InboundUpdate)
        .where(InboundUpdate.update_id.in_(pick.scalar_subquery()))
        .values(status=WORKING, locked_by=worker, locked_until=now + timedelta(seconds=lease_seconds),
                attempts=InboundUpdate.attempts + 1)
        .returning(InboundUpdate.update_id, InboundUpdate.chat_key, InboundUpdate.payload, InboundUpdate.attempts,
                   # free with the claim: lets the worker use its cached resident (core.resident_cache)
                   select(Resident.cache_rev).where(Resident.id == InboundUpdate.chat_key).scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
    await session.commit()
    return sorted((Claimed(r[0], r[1], r[2], r[3], r[4]) for r in rows), key=lambda c: c.update_id)


async def renew(session: AsyncSession, *, worker: str, update_ids: Iterable[int], now: datetime,
                lease_seconds: float) -> None:
    """Extend the leases of the rows this worker is still handling (a long handler is not taken over)."""
    ids = list(update_ids)
    if not ids:
        return
    await session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.update_id.in_(ids), InboundUpdate.locked_by == worker,
               InboundUpdate.status == WORKING)
        .values(locked_until=now + timedelta(seconds=lease_seconds))
    )
    await session.commit()


def _mine(update_id: int, worker: str) -> ColumnElement[bool]:
    return and_(InboundUpdate.update_id == update_id, InboundUpdate.locked_by == worker,
                InboundUpdate.status == WORKING)


async def mark_done(session: AsyncSession, update_id: int, *, worker: str, now: datetime) -> bool:
    result = await session.execute(
        update(InboundUpdate).where(_mine(update_id, worker))
        .values(status=DONE, handled_at=now, locked_until=None, locked_by=None)
    )
    await session.commit()
    return bool(rowcount(result))


async def mark_failed(session: AsyncSession, update_id: int, *, worker: str, now: datetime, error: str,
                      attempts: int, max_attempts: int, retry_base_seconds: float) -> bool:
    """Schedule a retry with exponential backoff; after ``max_attempts`` park the row. True if parked.

    The caller commits (so a notice to the resident can go in the same transaction as the parking).
    """
    parked = attempts >= max_attempts
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR], "locked_until": None, "locked_by": None}
    if parked:
        values.update(status=PARKED, handled_at=now)
    else:
        values.update(status=WAITING, not_before=now + timedelta(seconds=retry_base_seconds * 2 ** (attempts - 1)))
    await session.execute(update(InboundUpdate).where(_mine(update_id, worker)).values(**values))
    return parked


def N_(message: str) -> str:
    return message


PARKED_NOTICE = N_("📨 We received your message. It could not be processed automatically right now; our staff "
                   "have it and will follow up. There is no need to send it again.")


async def tell_resident_parked(session: AsyncSession, *, resident_id: int | None, update_id: int,
                               translator: Translator, now: datetime) -> None:
    """Add the "your message arrived" notice to the caller's transaction (once per parked update)."""
    if resident_id is None:
        return
    key = f"inbox.parked:{update_id}"
    if await session.scalar(select(OutboxNotification.id).where(OutboxNotification.dedupe_key == key)):
        return  # parked again after a staff retry: they were told already
    language = await session.scalar(select(Resident.language).where(Resident.id == resident_id))
    outbox.enqueue(session, resident_id=resident_id, kind="inbox.parked", now=now,
                   payload=outbox.message_payload(translator.gettext(language, PARKED_NOTICE), parse_mode=None),
                   dedupe_key=key)


async def release(session: AsyncSession, update_ids: Iterable[int], *, worker: str) -> None:
    """Hand unfinished rows back (graceful stop ran out of time); the attempt is not counted."""
    ids = list(update_ids)
    if not ids:
        return
    await session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.update_id.in_(ids), InboundUpdate.locked_by == worker,
               InboundUpdate.status == WORKING)
        .values(status=WAITING, locked_until=None, locked_by=None, attempts=InboundUpdate.attempts - 1)
    )
    await session.commit()


async def retry_parked(session: AsyncSession, update_id: int, *, now: datetime) -> bool:
    """Staff: put a parked update back in the queue (after fixing its cause); the caller commits."""
    result = await session.execute(
        update(InboundUpdate).where(InboundUpdate.update_id == update_id, InboundUpdate.status == PARKED)
        .values(status=WAITING, attempts=0, not_before=now, handled_at=None)
    )
    return bool(rowcount(result))


async def prune(session: AsyncSession, *, now: datetime, retention_hours: float) -> int:
    """Delete handled updates older than the retention period; parked ones stay until staff act."""
    result = await session.execute(
        delete(InboundUpdate).where(InboundUpdate.status == DONE,
                                    InboundUpdate.handled_at < now - timedelta(hours=retention_hours))
    )
    await session.commit()
    return rowcount(result) or 0


async def prune_job(ctx: AppContext) -> int:
    """Scheduler job: apply the retention period (``inbox.retention_hours``)."""
    async with ctx.sessionmaker() as session:
        return await prune(session, now=ctx.clock.now(), retention_hours=ctx.settings.inbox.retention_hours)


@dataclass(frozen=True)
class InboxStats:
    waiting: int
    in_progress: int
    parked: int
    oldest_waiting_seconds: float | None


async def stats(session: AsyncSession, *, now: datetime) -> InboxStats:
    rows = (await session.execute(
        select(InboundUpdate.status, func.count(), func.min(InboundUpdate.received_at))
        .where(InboundUpdate.status != DONE)
        .group_by(InboundUpdate.status)
    )).all()
    counts = {status: (n, oldest) for status, n, oldest in rows}
    oldest = counts.get(WAITING, (0, None))[1]
    return InboxStats(
        waiting=counts.get(WAITING, (0, None))[0],
        in_progress=counts.get(WORKING, (0, None))[0],
        parked=counts.get(PARKED, (0, None))[0],
        oldest_waiting_seconds=None if oldest is None else max((now - oldest).total_seconds(), 0.0),
    )


async def parked(session: AsyncSession, *, limit: int = 200) -> list[InboundUpdate]:
    return list((await session.execute(
        select(InboundUpdate).where(InboundUpdate.status == PARKED)
        .order_by(InboundUpdate.update_id.desc()).limit(limit)
    )).scalars())

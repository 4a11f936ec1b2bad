"""Periodic jobs of service requests: overdue escalation (R2, R3, R7) and visit reminders (R2).

R4 surveys need no polling job: they are decided and queued in the same transaction that reports the
work done (see core.surveys), and the outbox sender delivers them.

Every job is safe to run on two workers at once: on PostgreSQL a transaction-scoped advisory lock lets
one of them do the round; each item is also claimed with a conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import appointments, tickets
from core.context import AppContext
from db.session import dialect_name

log = logging.getLogger(__name__)


async def _try_lock(session: AsyncSession, name: str) -> bool:
    if dialect_name(session) != "postgresql":
        return True
    key = int.from_bytes(hashlib.sha256(f"job|{name}".encode()).digest()[:8], "big", signed=True)
    return bool((await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})).scalar())


async def escalate(ctx: AppContext) -> dict[str, list[str]]:
    """Flag overdue tickets and unanswered appointment requests; supervisors get a live alert."""
    now = ctx.clock.now()
    async with ctx.sessionmaker() as session:
        if not await _try_lock(session, "requests.escalate"):
            return {"tickets": [], "appointments": []}
        overdue = await tickets.escalate_overdue(session, ctx=ctx, now=now)
    async with ctx.sessionmaker() as session:
        if not await _try_lock(session, "requests.escalate_appointments"):
            return {"tickets": overdue, "appointments": []}
        unanswered = await appointments.escalate_unanswered(session, ctx=ctx, now=now)
    if overdue or unanswered:
        log.info("escalated %d overdue tickets and %d unanswered visit requests", len(overdue), len(unanswered))
    return {"tickets": overdue, "appointments": unanswered}


async def remind(ctx: AppContext) -> list[str]:
    """Day-before reminders of confirmed visits."""
    async with ctx.sessionmaker() as session:
        if not await _try_lock(session, "requests.remind"):
            return []
        sent = await appointments.send_reminders(session, ctx=ctx, now=ctx.clock.now())
    if sent:
        log.info("queued %d visit reminders", len(sent))
    return sent

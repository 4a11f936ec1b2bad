"""Day-before reminders of planned work (R9), run by the scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.clock import local
from core.context import AppContext
from core.outages.audience import broadcast_event
from core.outages.base import REMINDER_FROM
from db.enums import OutageKind, OutageStatus
from db.models import OutageEvent, OutageNotice
from db.session import rowcount


def reminder_due(outage: OutageNotice, now: datetime) -> bool:
    """Planned work gets a reminder on the day before (from 09:00), unless it was announced that late."""
    if outage.kind is not OutageKind.planned or outage.status is not OutageStatus.announced:
        return False
    if outage.reminder_sent_at is not None or outage.starts_at <= now:
        return False
    day_before = local(outage.starts_at).date() - timedelta(days=1)
    today = local(now).date()
    return today > day_before or (today == day_before and local(now).time() >= REMINDER_FROM)


async def send_due_reminders(ctx: AppContext) -> int:
    """Scheduler job: day-before reminders. Idempotent: the conditional update lets one worker win."""
    now = ctx.clock.now()
    sent = 0
    async with ctx.sessionmaker() as session:
        candidates = (await session.execute(
            select(OutageNotice).where(OutageNotice.status == OutageStatus.announced,
                                       OutageNotice.kind == OutageKind.planned,
                                       OutageNotice.reminder_sent_at.is_(None),
                                       OutageNotice.starts_at > now)
        )).scalars().all()
        for outage in candidates:
            if not reminder_due(outage, now):
                continue
            claimed = await session.execute(
                update(OutageNotice)
                .where(OutageNotice.id == outage.id, OutageNotice.reminder_sent_at.is_(None),
                       OutageNotice.status == OutageStatus.announced)
                .values(reminder_sent_at=now)
            )
            if rowcount(claimed) != 1:
                await session.rollback()
                continue
            if outage.announced_at and local(outage.announced_at).date() >= local(outage.starts_at).date() - \
                    timedelta(days=1):
                await session.commit()  # announced the day before or later: the notice itself was the reminder
                continue
            event = OutageEvent(outage_id=outage.id, kind="reminder", at=now)
            session.add(event)
            await session.flush()
            await broadcast_event(session, ctx=ctx, outage=outage, event=event, staff_id=None)
            await session.commit()
            sent += 1
    return sent

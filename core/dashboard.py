"""Figures for the console home page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from db.enums import OPEN_TICKET_STATUSES, ConversationStatus
from db.models import Conversation, Ticket


@dataclass(frozen=True)
class Summary:
    queued: int
    open_tickets: int
    overdue: int
    outbox_pending: int


async def summary(session: AsyncSession, *, now: datetime) -> Summary:
    """What needs attention now: the handoff queue, open and overdue tickets, unsent notifications."""
    queued = (await session.execute(
        select(func.count()).select_from(Conversation).where(Conversation.status == ConversationStatus.queued)
    )).scalar_one()
    open_q = select(func.count()).select_from(Ticket).where(Ticket.status.in_(OPEN_TICKET_STATUSES))
    open_tickets = (await session.execute(open_q)).scalar_one()
    overdue = (await session.execute(open_q.where(Ticket.deadline_at < now))).scalar_one()
    return Summary(queued, open_tickets, overdue, await outbox.pending_count(session))

"""Call-backs (R10): a question we could not answer on the spot is called back within 24 hours.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.context import AppContext
from core.tickets.base import MAX_DESCRIPTION, create_ticket
from db.enums import TicketKind
from db.models import QuestionLog, Resident, Ticket


async def create_callback(
    session: AsyncSession, *, ctx: AppContext, resident: Resident, question: str, contact_phone: str | None = None,
    idempotency_key: str | None = None, notify: bool = False, source: str = "bot",
) -> Ticket:
    """R10: a question we could not answer on the spot; someone calls (or writes) back within 24 hours."""
    question = (question or "").strip()[:MAX_DESCRIPTION]
    subject = "回电 Call back: " + (question.splitlines()[0][:60] if question else "-")
    return await create_ticket(
        session, ctx=ctx, kind=TicketKind.callback, resident=resident, subject=subject, description=question,
        idempotency_key=idempotency_key, notify=notify, contact_phone=contact_phone,
        contact_name=resident.first_name,
    )


async def question_of(session: AsyncSession, *, question_id: int, resident_id: int) -> QuestionLog | None:
    """A logged question, only if it is this resident's own (forged button data gets nothing)."""
    row = await session.get(QuestionLog, question_id)
    if row is None or row.resident_id != resident_id:
        return None
    return row

"""Complaints (R5): filed at any hour, classified by staff, major ones to a supervisor.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.context import AppContext
from core.tickets.base import (
    MAX_DESCRIPTION,
    InvalidInput,
    NotAllowed,
    check_owner,
    create_ticket,
    is_supervisor,
    publish,
    staff_id_of,
)
from db.enums import Priority, TicketKind, Utility
from db.models import Resident, StaffUser, Ticket, TicketEvent


async def file_complaint(
    session: AsyncSession, *, ctx: AppContext, resident: Resident, text: str, attachments: Sequence[str] = (),
    contact_phone: str | None = None, idempotency_key: str | None = None, utility: Utility | str | None = None,
) -> Ticket:
    """R5: a complaint is accepted at any hour; staff classify it; deadline 3 working days (R3)."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("complaint text is required")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"complaint longer than {MAX_DESCRIPTION} characters")
    first_line = text.splitlines()[0]
    subject = "投诉 Complaint: " + (first_line[:60] + ("…" if len(first_line) > 60 else ""))
    return await create_ticket(
        session, ctx=ctx, kind=TicketKind.complaint, resident=resident, subject=subject, description=text,
        utility=utility, idempotency_key=idempotency_key, notify=False, attachments=list(attachments),
        contact_phone=contact_phone, contact_name=resident.first_name,
    )


def is_major_complaint(ticket: Ticket) -> bool:
    """R5: level 2 (escalated outside) or class A (bribes, overcharging, abuse) goes straight to leadership."""
    return ticket.kind is TicketKind.complaint and (ticket.complaint_level == 2 or ticket.complaint_class == "A")


def check_complaint_can_close(ticket: Ticket, staff: StaffUser | None) -> None:
    """R5: no complaint is closed unclassified, and a major one only by a supervisor."""
    if ticket.complaint_level is None:
        raise InvalidInput("R5: classify the complaint before closing it: impact level 1 or 2 and, where staff "
                           "are at fault, class A, B or C")
    if is_major_complaint(ticket) and staff is not None and not is_supervisor(staff):
        raise NotAllowed("R5: a level-2 or class-A complaint is handled and closed by a supervisor")


COMPLAINT_CLASSES = ("A", "B", "C")


async def classify_complaint(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, level: int, klass: str | None = None,
    note: str | None = None,
) -> Ticket:
    """R5: level 1 internal / level 2 escalated; class A/B/C when staff are at fault. Level 2 goes to a
    supervisor at once."""
    if ticket.kind is not TicketKind.complaint:
        raise InvalidInput("only complaints are classified")
    if level not in (1, 2):
        raise InvalidInput("level must be 1 or 2")
    klass = (klass or "").strip().upper() or None
    if klass is not None and klass not in COMPLAINT_CLASSES:
        raise InvalidInput("class must be A, B or C")
    check_owner(ticket, staff)  # issue 12 F10: a level-2 class escalates, so only the owner or a supervisor
    now = ctx.clock.now()
    ticket.complaint_level = level
    ticket.complaint_class = klass
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="classified", staff_id=staff_id_of(staff), note=note,
                            data={"level": level, "class": klass}))
    escalate = level == 2 or klass == "A"  # R5: major complaints go straight to leadership
    if escalate:
        ticket.priority = Priority.high
        if ticket.escalated_at is None:
            ticket.escalated_at = now
            session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="escalated", staff_id=staff_id_of(staff),
                                    data={"reason": "complaint_level_2" if level == 2 else "complaint_class_a"}))
    audit.record(session, at=now, staff_id=staff_id_of(staff), action="complaint.classify", target_type="ticket",
                 target_id=ticket.number, level=level, klass=klass)
    await session.commit()
    await publish(ctx, "tickets", action="classified", number=ticket.number, level=level)
    if escalate:
        await publish(ctx, "supervisor.alert", reason="complaint", number=ticket.number, level=level, klass=klass)
    return ticket

"""Overdue tickets (R3, R7) and the supervisor's queue (R2, R3, R4, R5, R7, R20).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import AppContext
from core.tickets.base import publish
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, Priority, TicketKind
from db.models import Appointment, Ticket, TicketEvent

# --- overdue (R3, R7) ---------------------------------------------------------------------------------------


async def escalate_overdue(session: AsyncSession, *, ctx: AppContext, now: datetime) -> list[str]:
    """Flag open tickets past their deadline once and alert supervisors; returns the ticket numbers.

    The UPDATE ... WHERE escalated_at IS NULL claims each ticket atomically, so two workers never flag
    (or alert) the same ticket twice.
    """
    candidates = (await session.execute(
        select(Ticket.id).where(Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.deadline_at < now,
                                Ticket.escalated_at.is_(None)).limit(500)
    )).scalars().all()
    flagged: list[tuple[int, str]] = []
    for ticket_id in candidates:
        res = await session.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.escalated_at.is_(None))
            .values(escalated_at=now).returning(Ticket.number)
        )
        number = res.scalar_one_or_none()
        if number is not None:
            flagged.append((ticket_id, number))
            session.add(TicketEvent(ticket_id=ticket_id, at=now, kind="escalated", data={"reason": "overdue"}))
    await session.commit()
    for _, number in flagged:
        await publish(ctx, "supervisor.alert", reason="overdue", number=number)
    return [n for _, n in flagged]


# --- what needs a supervisor (R2, R3, R4, R5, R7, R20) ------------------------------------------------------


@dataclass
class SupervisorQueue:
    """Open work a supervisor must see: the persistent side of the live ``supervisor.alert`` events."""

    tickets: list[Ticket]
    appointments: list[Appointment]


def supervisor_reason(ticket: Ticket, now: datetime) -> str:
    """Why a ticket is in the supervisor queue (the first that applies)."""
    if ticket.kind is TicketKind.followup:
        return "low_score_followup"  # R4: a score of 6 or less
    if ticket.kind is TicketKind.complaint and (ticket.complaint_level == 2 or ticket.complaint_class == "A"):
        return "major_complaint"  # R5: straight to leadership
    if ticket.deadline_at < now:
        return "overdue"  # R3 / R7
    if ticket.priority is Priority.emergency:
        return "emergency"  # R20
    return "escalated"


async def supervisor_queue(session: AsyncSession, *, now: datetime, limit: int = 200) -> SupervisorQueue:
    """Open tickets that are escalated, overdue, emergencies, major complaints or R4 follow-up tasks, and visit
    requests not answered within 1 working day (R2); most urgent deadline first."""
    limit = max(1, min(limit, 500))
    needs = or_(
        Ticket.escalated_at.is_not(None),
        Ticket.deadline_at < now,
        Ticket.priority == Priority.emergency,
        Ticket.kind == TicketKind.followup,
        and_(Ticket.kind == TicketKind.complaint,
             or_(Ticket.complaint_level == 2, Ticket.complaint_class == "A")),
    )
    rows = await session.execute(
        select(Ticket).where(Ticket.status.in_(OPEN_TICKET_STATUSES), needs)
        .order_by(Ticket.deadline_at, Ticket.id).limit(limit)
    )
    appts = await session.execute(
        select(Appointment).where(Appointment.status == AppointmentStatus.requested, Appointment.respond_by < now)
        .order_by(Appointment.respond_by, Appointment.id).limit(limit)
    )
    return SupervisorQueue(list(rows.scalars()), list(appts.scalars()))

"""What residents do with their own requests: the list, one request, withdrawing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import AppContext
from core.tickets.base import NotAllowed, TransitionError, publish
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, TicketKind, TicketStatus
from db.models import Appointment, Resident, Ticket, TicketEvent

# --- residents acting on their own tickets ------------------------------------------------------------------


def resident_can_cancel(ticket: Ticket) -> bool:
    """A resident may withdraw a request nobody has taken yet."""
    return ticket.status is TicketStatus.new and ticket.kind in (TicketKind.fault, TicketKind.complaint,
                                                                 TicketKind.callback)


async def cancel_by_resident(session: AsyncSession, *, ctx: AppContext, ticket: Ticket, resident: Resident) -> Ticket:
    if ticket.resident_id != resident.id:
        raise NotAllowed("not your request")
    if not resident_can_cancel(ticket):
        raise TransitionError("this request is already being handled and cannot be withdrawn here")
    now = ctx.clock.now()
    ticket.status = TicketStatus.cancelled
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", resident_id=resident.id,
                            from_status=TicketStatus.new.value, to_status=TicketStatus.cancelled.value,
                            note="withdrawn by the resident"))
    await session.commit()
    await publish(ctx, "tickets", action="status", number=ticket.number, status="cancelled")
    return ticket


async def resident_ticket(session: AsyncSession, *, ticket_id: int, resident_id: int) -> Ticket | None:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.resident_id != resident_id:
        return None
    return ticket


@dataclass
class ResidentRequests:
    tickets: list[Ticket] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)


OPEN_APPOINTMENT_STATUSES = (AppointmentStatus.requested, AppointmentStatus.proposed, AppointmentStatus.confirmed)


async def resident_requests(
    session: AsyncSession, *, resident_id: int, now: datetime, recent_days: int = 30, limit: int = 10,
) -> ResidentRequests:
    """Open requests plus those finished in the last ``recent_days``, newest first."""
    since = now - timedelta(days=recent_days)
    tickets = await session.execute(
        select(Ticket).where(
            Ticket.resident_id == resident_id, Ticket.kind != TicketKind.followup,
            or_(Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.updated_at >= since),
        ).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    )
    appts = await session.execute(
        select(Appointment).where(
            Appointment.resident_id == resident_id,
            or_(Appointment.status.in_(OPEN_APPOINTMENT_STATUSES), Appointment.updated_at >= since),
        ).order_by(Appointment.day.desc(), Appointment.id.desc()).limit(limit)
    )
    return ResidentRequests(list(tickets.scalars()), list(appts.scalars()))

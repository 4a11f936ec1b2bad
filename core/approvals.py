"""R2: a member of staff cannot refuse or cancel a resident's request (a ticket or a visit) on their own.

They ask; a supervisor approves (the request is then carried out in the supervisor's name, and the reason is
sent to the resident through the outbox) or rejects it (nothing changes for the resident). Supervisors may
also act directly, with a reason, through the ordinary services, which enforce the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import appointments, audit, tickets
from core.context import AppContext
from core.staff import has_role
from core.tickets.base import publish
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, StaffRole, TicketStatus
from db.models import Appointment, ApprovalRequest, StaffUser, Ticket

MAX_REASON = 500


class NotFound(tickets.InvalidInput):
    status_code = 404


class Action(StrEnum):
    cancel_ticket = "cancel_ticket"
    cancel_appointment = "cancel_appointment"
    refuse_appointment = "refuse_appointment"


class Status(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


def is_supervisor(staff: StaffUser | None) -> bool:
    return staff is not None and has_role(staff.role, StaffRole.supervisor)


def _target_open(action: Action, target: Ticket | Appointment) -> bool:
    if isinstance(target, Ticket):
        return action is Action.cancel_ticket and target.status in OPEN_TICKET_STATUSES
    if action is Action.refuse_appointment:
        return target.status in (AppointmentStatus.requested, AppointmentStatus.proposed)
    return action is Action.cancel_appointment and target.status in appointments.OPEN


async def pending_for(session: AsyncSession, target: Ticket | Appointment) -> list[ApprovalRequest]:
    column = ApprovalRequest.ticket_id if isinstance(target, Ticket) else ApprovalRequest.appointment_id
    rows = await session.execute(select(ApprovalRequest).where(column == target.id,
                                                               ApprovalRequest.status == Status.pending)
                                 .order_by(ApprovalRequest.id))
    return list(rows.scalars())


async def request(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, action: Action | str,
                  target: Ticket | Appointment, reason: str) -> ApprovalRequest:
    """Ask a supervisor to cancel or refuse; the reason is the one the resident will read (R14 applies). Commits."""
    action = Action(action)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise tickets.InvalidInput(f"give the reason the resident will read (1 to {MAX_REASON} characters)")
    tickets.require_polite(reason, what="reason")
    if not _target_open(action, target):
        verb = "refused" if action is Action.refuse_appointment else "cancelled"
        raise tickets.TransitionError(f"{target.number} can no longer be {verb}")
    if await pending_for(session, target):
        raise tickets.TransitionError(f"{target.number} already waits for a supervisor's decision")
    now = ctx.clock.now()
    row = ApprovalRequest(action=action.value, reason=reason, requested_by_id=staff.id, requested_at=now,
                          status=Status.pending.value,
                          ticket_id=target.id if isinstance(target, Ticket) else None,
                          appointment_id=target.id if isinstance(target, Appointment) else None)
    session.add(row)
    audit.record(session, at=now, staff_id=staff.id, action="approval.request", target_type=action.value,
                 target_id=target.number)
    await session.commit()
    await publish(ctx, "supervisor.alert", reason="approval", number=target.number, action=action.value)
    return row


@dataclass(frozen=True)
class PendingItem:
    request: ApprovalRequest
    number: str
    requested_by: str


async def pending(session: AsyncSession, *, limit: int = 200) -> list[PendingItem]:
    """The supervisors' list: oldest first."""
    rows = (await session.execute(select(ApprovalRequest).where(ApprovalRequest.status == Status.pending)
                                  .order_by(ApprovalRequest.requested_at, ApprovalRequest.id).limit(limit))).scalars()
    out = []
    for r in rows:
        target = (await session.get(Ticket, r.ticket_id)) if r.ticket_id else await session.get(Appointment,
                                                                                                  r.appointment_id)
        who = await session.get(StaffUser, r.requested_by_id) if r.requested_by_id else None
        out.append(PendingItem(r, target.number if target else "?", who.display_name if who else ""))
    return out


async def decide(session: AsyncSession, *, ctx: AppContext, request_id: int, supervisor: StaffUser, approve: bool,
                 note: str | None = None) -> ApprovalRequest:
    """A supervisor's decision. Approving carries the action out (the resident is told the reason). Commits."""
    if not is_supervisor(supervisor):
        raise tickets.NotAllowed("only a supervisor can approve a refusal or cancellation (R2)")
    row = await session.get(ApprovalRequest, request_id)
    if row is None:
        raise NotFound("no such approval request")
    if row.status != Status.pending:
        raise tickets.TransitionError("this request has already been decided")
    note = (note or "").strip()[:MAX_REASON] or None
    now = ctx.clock.now()
    row.status = (Status.approved if approve else Status.rejected).value
    row.decided_by_id, row.decided_at, row.decision_note = supervisor.id, now, note
    audit.record(session, at=now, staff_id=supervisor.id, action="approval.approve" if approve else "approval.reject",
                 target_type=row.action, target_id=str(row.ticket_id or row.appointment_id))
    if not approve:
        await session.commit()
        return row
    action = Action(row.action)
    # The services below commit the decision together with the cancellation and its outbox message.
    if action is Action.cancel_ticket:
        ticket = await session.get_one(Ticket, row.ticket_id)
        await tickets.change_status(session, ctx=ctx, ticket=ticket, to=TicketStatus.cancelled, staff=supervisor,
                                    note=row.reason)
    else:
        appt = await session.get_one(Appointment, row.appointment_id)
        if action is Action.refuse_appointment:
            await appointments.refuse(session, ctx=ctx, appt=appt, staff=supervisor, reason=row.reason)
        else:
            await appointments.cancel_by_staff(session, ctx=ctx, appt=appt, staff=supervisor, reason=row.reason)
    return row

"""Staff actions on any ticket: status changes (R3, R6), assignment, replies, notes, new deadlines.

Resolving a ticket schedules the R4 survey and reopening withdraws it (core.surveys, which imports
only core.tickets.base, so no cycle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, surveys
from core.context import AppContext
from core.tickets.base import (
    MAX_STAFF_TEXT,
    N_,
    NOTE_REQUIRED,
    TRANSITIONS,
    InvalidInput,
    NotAllowed,
    TransitionError,
    check_owner,
    deadline_for,
    esc,
    is_supervisor,
    notify_resident,
    publish,
    require_polite,
    staff_id_of,
)
from core.tickets.complaints import check_complaint_can_close
from db.enums import OPEN_TICKET_STATUSES, TicketKind, TicketStatus
from db.models import StaffUser, Ticket, TicketEvent

# --- staff actions ------------------------------------------------------------------------------------------

STATUS_MESSAGES = {
    TicketStatus.accepted: N_("👤 Your request {number} has been accepted; a member of our staff is now "
                              "responsible for it. We will finish by {deadline}."),
    TicketStatus.in_progress: N_("🔧 Work on your request {number} has started."),
    TicketStatus.resolved: N_("✅ Your request {number} has been resolved.\n{note}"),
    TicketStatus.closed: N_("📁 Your request {number} is now closed. Thank you for your patience."),
    TicketStatus.cancelled: N_("Your request {number} has been cancelled.\nReason: {note}"),
    TicketStatus.duplicate: N_("Your request {number} is about the same problem as request {original}, which is "
                               "already being handled. We will keep you informed under {original}."),
}
REOPENED_MESSAGE = N_("🔁 Your request {number} has been reopened and work continues. New date: {deadline}.")


async def change_status(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, to: TicketStatus | str, staff: StaffUser | None = None,
    note: str | None = None, paid: bool = False, duplicate_of: Ticket | None = None,
) -> Ticket:
    """Move a ticket to another status; records the event, tells the resident; commits.

    ``paid`` (on resolution) marks paid work, which R4 always follows up. Resolving schedules the R4 survey.
    """
    to = TicketStatus(to)
    frm = ticket.status
    if to not in TRANSITIONS[frm]:
        raise TransitionError(f"a ticket cannot go from {frm.value} to {to.value}")
    note = (note or "").strip() or None
    if to in NOTE_REQUIRED and not note:
        raise InvalidInput(f"a note is required to set {to.value}")
    if ticket.kind is TicketKind.complaint and to in (TicketStatus.resolved, TicketStatus.closed):
        check_complaint_can_close(ticket, staff)
    if to is TicketStatus.cancelled and staff is not None and not is_supervisor(staff):
        raise NotAllowed("cancelling a resident's request needs a supervisor's approval (R2): "
                         "ask for it with the reason the resident will read")
    if note and len(note) > MAX_STAFF_TEXT:
        raise InvalidInput(f"note longer than {MAX_STAFF_TEXT} characters")
    require_polite(note, what="resolution or cancellation note")  # R14: the note is sent to the resident
    if to is TicketStatus.duplicate:
        if duplicate_of is None or duplicate_of.id == ticket.id:
            raise InvalidInput("duplicate_of must name another ticket")
        if duplicate_of.status is TicketStatus.duplicate:
            raise InvalidInput("duplicate_of is itself a duplicate; link to the original")
    check_owner(ticket, staff)
    now = ctx.clock.now()
    ticket.status = to
    ticket.updated_at = now
    if staff is not None and staff.id is not None and ticket.owner_id is None:
        ticket.owner_id = staff.id  # R6: first contact owns it
    data: dict[str, Any] = {}
    if to is TicketStatus.resolved:
        ticket.resolved_at = now
        data["paid"] = bool(paid)
    elif to is TicketStatus.closed:
        ticket.closed_at = now
    elif to is TicketStatus.duplicate:
        assert duplicate_of is not None  # checked above: a duplicate names its original
        ticket.duplicate_of_id = duplicate_of.id
        data["duplicate_of"] = duplicate_of.number
        session.add(TicketEvent(ticket_id=duplicate_of.id, at=now, kind="duplicate_linked",
                                staff_id=staff_id_of(staff), data={"ticket": ticket.number}))
    elif frm is TicketStatus.resolved and to is TicketStatus.in_progress:
        ticket.resolved_at = None
        if ticket.deadline_at < now:  # reopened after the promise: a fresh R3 period
            ticket.deadline_at = deadline_for(ctx, ticket.kind, ticket.priority, now)
            ticket.escalated_at = None
        await surveys.cancel_pending(session, ticket_id=ticket.id)
    # The resident's notice is queued before the survey, so it is also delivered first.
    if frm is TicketStatus.resolved and to is TicketStatus.in_progress:
        notify_resident(session, ctx, ticket, REOPENED_MESSAGE, now=now)
    elif to is TicketStatus.duplicate and duplicate_of is not None:
        notify_resident(session, ctx, ticket, STATUS_MESSAGES[to], now=now, original=duplicate_of.number)
    else:
        notify_resident(session, ctx, ticket, STATUS_MESSAGES[to], now=now, note=esc(note))
    if to is TicketStatus.resolved:
        decision = await surveys.schedule_for_ticket(session, ctx=ctx, ticket=ticket, paid=paid, staff=staff, now=now)
        data["survey"] = decision.as_dict()
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", staff_id=staff_id_of(staff),
                            from_status=frm.value, to_status=to.value, note=note, data=data))
    if staff is not None:
        audit.record(session, at=now, staff_id=staff.id, action="ticket.status", target_type="ticket",
                     target_id=ticket.number, to=to.value)
    await session.commit()
    await publish(ctx, "tickets", action="status", number=ticket.number, status=to.value)
    return ticket


async def assign(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, assignee: StaffUser,
) -> Ticket:
    """Give a ticket an owner (R6). Taking a free ticket is anyone's; moving an owned one is a supervisor's."""
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise TransitionError("only open tickets can be assigned")
    if not assignee.active:
        raise InvalidInput("that member of staff is not active")
    if ticket.owner_id is not None and ticket.owner_id != assignee.id and not is_supervisor(staff):
        raise NotAllowed("this ticket already has an owner (R6); only a supervisor can reassign it")
    if ticket.owner_id is None and assignee.id != staff.id and not is_supervisor(staff):
        raise NotAllowed("only a supervisor can assign a ticket to someone else")
    now = ctx.clock.now()
    previous = ticket.owner_id
    ticket.owner_id = assignee.id
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="assigned", staff_id=staff_id_of(staff),
                            data={"from": previous, "to": assignee.id, "to_name": assignee.display_name}))
    audit.record(session, at=now, staff_id=staff_id_of(staff), action="ticket.assign", target_type="ticket",
                 target_id=ticket.number, to=assignee.id)
    if ticket.status is TicketStatus.new:  # someone owns it now: the resident hears it is accepted
        ticket.status = TicketStatus.accepted
        session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", staff_id=staff_id_of(staff),
                                from_status=TicketStatus.new.value, to_status=TicketStatus.accepted.value))
        notify_resident(session, ctx, ticket, STATUS_MESSAGES[TicketStatus.accepted], now=now)
    await session.commit()
    await publish(ctx, "tickets", action="assigned", number=ticket.number, owner_id=assignee.id)
    return ticket


REPLY_MESSAGE = N_("💬 Message from our staff about your request {number}:\n{text}")


async def reply_to_resident(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, text: str,
    guard_override: bool = False,
) -> TicketEvent:
    """A written message to the resident about their ticket (through the outbox).

    R14: refused when it contains a forbidden phrase, unless the console's audited "send anyway" was used."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the reply is empty")
    if len(text) > MAX_STAFF_TEXT:
        raise InvalidInput(f"reply longer than {MAX_STAFF_TEXT} characters")
    if not guard_override:
        require_polite(text, what="reply")
    if ticket.resident_id is None:
        raise InvalidInput("this ticket has no resident to reply to")
    check_owner(ticket, staff)
    now = ctx.clock.now()
    if ticket.owner_id is None and staff.id is not None:
        ticket.owner_id = staff.id
    ticket.updated_at = now
    event = TicketEvent(ticket_id=ticket.id, at=now, kind="reply", staff_id=staff_id_of(staff), note=text)
    session.add(event)
    notify_resident(session, ctx, ticket, REPLY_MESSAGE, now=now, kind="ticket.reply", text=esc(text))
    audit.record(session, at=now, staff_id=staff_id_of(staff), action="ticket.reply", target_type="ticket",
                 target_id=ticket.number)
    await session.commit()
    await publish(ctx, "tickets", action="reply", number=ticket.number)
    return event


async def add_note(session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser,
                   text: str) -> TicketEvent:
    """An internal note: staff only, never sent."""
    text = (text or "").strip()
    if not text or len(text) > MAX_STAFF_TEXT:
        raise InvalidInput(f"a note needs 1 to {MAX_STAFF_TEXT} characters")
    check_owner(ticket, staff)  # issue 12 F10
    now = ctx.clock.now()
    event = TicketEvent(ticket_id=ticket.id, at=now, kind="note", staff_id=staff_id_of(staff), note=text)
    session.add(event)
    ticket.updated_at = now
    await session.commit()
    return event


async def mark_duplicate(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, original: Ticket, staff: StaffUser | None,
    note: str | None = None,
) -> Ticket:
    """Close ``ticket`` as a duplicate of ``original``; the resident is pointed at the original."""
    return await change_status(session, ctx=ctx, ticket=ticket, to=TicketStatus.duplicate, staff=staff, note=note,
                               duplicate_of=original)


DEADLINE_MESSAGE = N_("⏳ We are sorry: your request {number} cannot be finished by the date we promised.\n"
                      "Reason: {reason}\nNew date: {deadline}")


async def extend_deadline(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, new_deadline: datetime, reason: str,
) -> Ticket:
    """R3: when the promise cannot be kept, tell the resident why and the new date."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required")
    require_polite(reason, what="reason for the new date")  # R14: the reason is sent to the resident
    if new_deadline.tzinfo is None:
        raise InvalidInput("the new deadline needs a time zone")
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise TransitionError("only open tickets have a deadline to move")
    if new_deadline <= ticket.deadline_at:
        raise InvalidInput("the new deadline must be later than the current one")
    check_owner(ticket, staff)
    now = ctx.clock.now()
    old = ticket.deadline_at
    ticket.deadline_at = new_deadline
    ticket.escalated_at = None
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="deadline", staff_id=staff_id_of(staff), note=reason,
                            data={"from": old.isoformat(), "to": new_deadline.isoformat()}))
    notify_resident(session, ctx, ticket, DEADLINE_MESSAGE, now=now, reason=esc(reason))
    audit.record(session, at=now, staff_id=staff_id_of(staff), action="ticket.deadline", target_type="ticket",
                 target_id=ticket.number)
    await session.commit()
    return ticket

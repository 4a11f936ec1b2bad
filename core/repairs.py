"""R7 repair orders (工单): arrival, outcome, the call-back after every completed repair, and progress of an
order running late (what is being done, who is responsible, their phone), which the resident sees in
"My requests". Also the figures R7 and R18 are measured by: emergency on-time arrival (target 99 %) and
first-time fix (target 96 %).

Repair orders are fault tickets (core.tickets); this module only adds what R7 asks on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import audit, tickets
from core.context import AppContext
from core.tickets.base import check_owner, notify_resident
from db.enums import OPEN_TICKET_STATUSES, Priority, TicketKind, TicketStatus
from db.models import Resident, StaffUser, Ticket, TicketEvent


def N_(message: str) -> str:
    return message


# R7 fixes the 99 % rate but not the arrival time; 30 minutes is the usual urban emergency commitment of
# Chinese gas utilities (市区抢修30分钟到达现场). One constant, so a utility with another promise changes it here.
EMERGENCY_ARRIVAL = timedelta(minutes=30)
EMERGENCY_ON_TIME_TARGET = 0.99  # R7
FIRST_TIME_FIX_TARGET = 0.96  # R18
CALLBACK_WORKING_DAYS = 1  # R7: called back within the first working day after completion
CALLBACK_LOOKBACK = timedelta(days=30)  # the sweep re-checks a month of completed repairs
MAX_PROGRESS = 1000


class Outcome:
    """How a repair visit ended."""

    fixed = "fixed"
    not_fixed = "not_fixed"  # another visit is needed
    not_ours = "not_ours"  # not the utility's responsibility (R8): explained and guided
    no_access = "no_access"  # nobody home / no access

    ALL = (fixed, not_fixed, not_ours, no_access)


PROGRESS_MESSAGE = N_("🛠 Update on your request {number}: {note}\nResponsible: {name}, phone {phone}.\n"
                      "New expected completion: {deadline}.")


class RepairError(tickets.InvalidInput):
    """Bad input on a repair order; the message is shown as is."""


def _fault(ticket: Ticket) -> None:
    if ticket.kind is not TicketKind.fault:
        raise RepairError("Only repair orders (fault tickets) record arrival and outcome · 仅报修工单可登记")


async def record_arrival(session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser,
                         at: datetime | None = None) -> Ticket:
    """The crew arrived (R7); an emergency is on time within 30 minutes of the report. Commits."""
    _fault(ticket)
    now = ctx.clock.now()
    at = at or now
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise RepairError("This order is no longer open · 工单已结束")
    check_owner(ticket, staff)  # R6: the owner (or a supervisor) acts on the order
    if at.tzinfo is None or at > now + timedelta(minutes=5) or at < ticket.created_at:
        raise RepairError("The arrival time must be between the report and now · 到达时间须在报修之后、当前之前")
    ticket.arrived_at = at
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="arrived", staff_id=staff.id,
                            data={"arrived_at": at.isoformat(), "on_time": arrived_on_time(ticket)}))
    audit.record(session, at=now, staff_id=staff.id, action="repair.arrived", target_type="ticket",
                 target_id=ticket.number)
    await session.commit()
    return ticket


def arrived_on_time(ticket: Ticket) -> bool | None:
    """R7: emergency arrival within the promise; None for non-emergencies or before arrival."""
    if ticket.priority is not Priority.emergency or ticket.arrived_at is None:
        return None
    return ticket.arrived_at - ticket.created_at <= EMERGENCY_ARRIVAL


async def complete_repair(session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, outcome: str,
                          first_visit: bool, note: str, paid: bool = False) -> Ticket:
    """Record the outcome and resolve the order (the resolution note is the written reply), then open the R7
    call-back task. "Fixed on first visit" counts only when the outcome is fixed. Commits."""
    _fault(ticket)
    if outcome not in Outcome.ALL:
        raise RepairError(f"Outcome must be one of: {', '.join(Outcome.ALL)} · 请选择维修结果")
    if ticket.arrived_at is None and outcome != Outcome.not_ours:
        raise RepairError("Record the arrival time first (R7) · 请先登记到达时间")
    ticket.repair_outcome = outcome
    ticket.first_visit_fix = bool(first_visit) and outcome == Outcome.fixed
    try:
        await tickets.change_status(session, ctx=ctx, ticket=ticket, to=TicketStatus.resolved, staff=staff,
                                    note=note, paid=paid)
    except tickets.RequestError:
        await session.rollback()
        raise
    await ensure_callback(session, ctx=ctx, repair=ticket)
    return ticket


async def ensure_callback(session: AsyncSession, *, ctx: AppContext, repair: Ticket) -> Ticket:
    """R7: one call-back task per completed repair, due by the end of the first working day after it
    (idempotent: the repair's id is the task's idempotency key). Commits."""
    done_at = repair.resolved_at or ctx.clock.now()
    resident = await session.get(Resident, repair.resident_id) if repair.resident_id else None
    callback = await tickets.create_ticket(
        session, ctx=ctx, kind=TicketKind.callback, resident=resident, notify=False,
        subject=f"回访电话 Call back after repair {repair.number}"[:255],
        description=f"R7: call the resident back about {repair.number} ({repair.repair_outcome or 'resolved'}).",
        idempotency_key=f"r7-callback:{repair.id}", contact_phone=repair.contact_phone,
        contact_name=repair.contact_name, account_id=repair.account_id, district=repair.district,
        language=repair.language,
    )
    due = ctx.calendar.deadline(done_at, CALLBACK_WORKING_DAYS)
    if callback.repair_of_id != repair.id or callback.deadline_at != due:
        callback.repair_of_id = repair.id
        callback.deadline_at = due
        await session.commit()
    return callback


async def ensure_callbacks(ctx: AppContext) -> int:
    """Scheduler sweep: every repair resolved by any path (console, API, bot) in the last month gets its call-back
    task. Returns how many were opened."""
    now = ctx.clock.now()
    cb = aliased(Ticket)
    async with ctx.sessionmaker() as session:
        q = (select(Ticket).where(
            Ticket.kind == TicketKind.fault, Ticket.status.in_((TicketStatus.resolved, TicketStatus.closed)),
            Ticket.resolved_at >= now - CALLBACK_LOOKBACK,
            ~exists().where(and_(cb.repair_of_id == Ticket.id, cb.kind == TicketKind.callback)))
            .order_by(Ticket.id).limit(500))
        repairs = list((await session.execute(q)).scalars())
        for repair in repairs:
            await ensure_callback(session, ctx=ctx, repair=repair)
        return len(repairs)


async def record_progress(session: AsyncSession, *, ctx: AppContext, ticket: Ticket, staff: StaffUser, note: str,
                          responsible_name: str, responsible_phone: str, new_deadline: datetime | None = None
                          ) -> Ticket:
    """R7: an order that cannot finish in time records its progress, the responsible person and their phone; the
    resident is told and sees it in "My requests". Commits."""
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise RepairError("This order is no longer open · 工单已结束")
    check_owner(ticket, staff)  # R6
    note = " ".join((note or "").split())
    name = " ".join((responsible_name or "").split())
    phone = tickets.clean_phone(responsible_phone)
    if not note or len(note) > MAX_PROGRESS:
        raise RepairError(f"Describe the progress (1–{MAX_PROGRESS} characters) · 请填写进展")
    if not name or len(name) > 64:
        raise RepairError("Name the responsible person · 请填写责任人")
    if phone is None:
        raise RepairError("Give the responsible person's phone, e.g. 13812345678 or 0512-12345678 · 请填写有效电话")
    now = ctx.clock.now()
    if new_deadline is not None:
        if new_deadline <= now or new_deadline - now > timedelta(days=90):
            raise RepairError("The new expected completion must be in the next 90 days · 新的预计完成时间须在90天内")
        ticket.deadline_at = new_deadline
        ticket.escalated_at = None
    ticket.progress_note, ticket.responsible_name, ticket.responsible_phone = note, name, phone
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="progress", staff_id=staff.id, note=note,
                            data={"responsible": name}))
    audit.record(session, at=now, staff_id=staff.id, action="repair.progress", target_type="ticket",
                 target_id=ticket.number)
    notify_resident(session, ctx, ticket, PROGRESS_MESSAGE, now=now, kind="ticket.progress", note=tickets.esc(note),
                    name=tickets.esc(name), phone=phone)
    await session.commit()
    return ticket


# --- measuring R7 / R18 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairFigures:
    emergencies_arrived: int
    emergencies_on_time: int
    repairs_completed: int  # fault tickets resolved in the period
    completed_in_time: int  # ... no later than their deadline (R18 repair timeliness)
    with_outcome: int  # ... whose visit outcome was recorded
    fixed_first_visit: int  # ... fixed on the first visit (R18 first-time fix)

    @property
    def emergency_on_time_rate(self) -> float | None:
        return self.emergencies_on_time / self.emergencies_arrived if self.emergencies_arrived else None

    @property
    def first_time_fix_rate(self) -> float | None:
        return self.fixed_first_visit / self.with_outcome if self.with_outcome else None

    @property
    def timeliness_rate(self) -> float | None:
        return self.completed_in_time / self.repairs_completed if self.repairs_completed else None


async def figures(session: AsyncSession, *, start: datetime, end: datetime) -> RepairFigures:
    """Repair orders (fault tickets) resolved in [start, end): emergency arrivals on time (R7), completion within
    the deadline and first-time fixes among those with a recorded outcome (R18)."""
    q = select(Ticket.priority, Ticket.created_at, Ticket.arrived_at, Ticket.repair_outcome, Ticket.first_visit_fix,
               Ticket.resolved_at, Ticket.deadline_at).where(
        Ticket.kind == TicketKind.fault, Ticket.resolved_at >= start, Ticket.resolved_at < end)
    arrived = on_time = done = in_time = outcome = first = 0
    for priority, created, arrived_at, result, first_fix, resolved, deadline in (await session.execute(q)).all():
        done += 1
        in_time += resolved is not None and resolved <= deadline
        if result is not None:
            outcome += 1
            first += bool(first_fix)
        if priority is Priority.emergency and arrived_at is not None:
            arrived += 1
            on_time += arrived_at - created <= EMERGENCY_ARRIVAL
    return RepairFigures(arrived, on_time, done, in_time, outcome, first)

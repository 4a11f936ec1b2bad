"""Staff answers to a visit request (R2): confirm, propose, refuse, cancel, no-show, complete, assign;
and the R19 ignition checklist. Completing a visit lets R4 decide on a survey.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import ignition, slots, surveys
from core.appointments.base import (
    BUTTON_ACCEPT,
    BUTTON_CANCEL,
    BUTTON_OTHER,
    NO_SHOW_GRACE,
    OPEN,
    ProposalAction,
    SlotUnavailable,
    TooLate,
    add_event,
    audit_change,
    check_bookable,
    check_owner,
    clean_note,
    notify_resident,
    proposal_callback,
    require_status,
)
from core.context import AppContext
from core.staff import has_role
from core.tickets.base import InvalidInput, NotAllowed, TransitionError, publish, require_polite
from db.enums import AppointmentStatus, StaffRole
from db.models import Appointment, StaffUser

# --- staff answers (R2) -------------------------------------------------------------------------------------


async def confirm(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None,
                  note: str | None = None) -> Appointment:
    require_status(appt, AppointmentStatus.requested)
    note = clean_note(note)
    check_owner(appt, staff)
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.confirmed
    appt.updated_at = now
    if staff is not None and staff.id is not None and appt.owner_id is None:
        appt.owner_id = staff.id
    add_event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=note)
    audit_change(session, appt, staff, "confirm", now)
    notify_resident(session, ctx, appt, "confirmed", now=now)
    await session.commit()
    await publish(ctx, "appointments", action="confirmed", number=appt.number)
    return appt


async def propose_slot(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None, day: date,
                       window: str, note: str | None = None) -> Appointment:
    """Offer another day/window; the resident accepts, picks another date, or cancels."""
    require_status(appt, AppointmentStatus.requested)
    note = clean_note(note)
    check_owner(appt, staff)
    require_polite(note, what="note")  # R14: sent to the resident with the proposal
    now = ctx.clock.now()
    await check_bookable(session, ctx, district=appt.district, day=day, window=window, now=now,
                         resident_horizon=False)
    if (day, window) != (appt.day, appt.window) and await slots.free_places(
        session, district=appt.district, day=day, window=window
    ) <= 0:
        raise SlotUnavailable("the proposed time has no free place")
    frm = appt.status
    appt.status = AppointmentStatus.proposed
    appt.proposed_day, appt.proposed_window = day, window
    appt.updated_at = now
    if staff is not None and staff.id is not None and appt.owner_id is None:
        appt.owner_id = staff.id
    add_event(session, appt, kind="proposed", now=now, staff=staff, frm=frm,
              note=f"{day.isoformat()} {window}" + (f": {note}" if note else ""))
    audit_change(session, appt, staff, "propose", now)
    tr = ctx.translator
    buttons = [
        [{"text": tr.gettext(appt.language, BUTTON_ACCEPT),
          "callback_data": proposal_callback(appt.id, ProposalAction.accept)}],
        [{"text": tr.gettext(appt.language, BUTTON_OTHER),
          "callback_data": proposal_callback(appt.id, ProposalAction.other)}],
        [{"text": tr.gettext(appt.language, BUTTON_CANCEL),
          "callback_data": proposal_callback(appt.id, ProposalAction.cancel)}],
    ]
    notify_resident(session, ctx, appt, "proposed", now=now, buttons=buttons, note=note)
    await session.commit()
    await publish(ctx, "appointments", action="proposed", number=appt.number)
    return appt


async def refuse(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser,
                 reason: str) -> Appointment:
    """R2: a refusal needs the approval of management (here: a supervisor) and a reason told to the applicant."""
    if staff is None or not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("refusing an appointment needs a supervisor (R2)")
    require_status(appt, AppointmentStatus.requested, AppointmentStatus.proposed)
    reason = clean_note(reason, required=True)
    require_polite(reason, what="refusal reason")  # R14: the reason is told to the applicant
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.refused
    appt.refusal_reason = reason
    appt.refused_by_id = staff.id
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=reason)
    audit_change(session, appt, staff, "refuse", now)
    notify_resident(session, ctx, appt, "refused", now=now, note=reason)
    await session.commit()
    await publish(ctx, "appointments", action="refused", number=appt.number)
    return appt


async def cancel_by_staff(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None,
                          reason: str) -> Appointment:
    """R2: cancelling a resident's visit needs a supervisor (others ask through core.approvals)."""
    if staff is not None and not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("cancelling a resident's visit needs a supervisor's approval (R2): "
                         "ask for it with the reason the resident will read")
    require_status(appt, *OPEN)
    reason = clean_note(reason, required=True)
    check_owner(appt, staff)
    require_polite(reason, what="cancellation reason")  # R14: the reason is told to the resident
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.cancelled
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=reason)
    audit_change(session, appt, staff, "cancel", now)
    notify_resident(session, ctx, appt, "cancelled", now=now, note=reason)
    await session.commit()
    await publish(ctx, "appointments", action="cancelled", number=appt.number)
    return appt


async def record_no_show(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None,
                         note: str | None = None) -> Appointment:
    """R2: the resident was not met within 30 minutes of the window's start."""
    require_status(appt, AppointmentStatus.confirmed)
    check_owner(appt, staff)
    now = ctx.clock.now()
    if now <= slots.window_start(appt.day, appt.window) + NO_SHOW_GRACE:  # R2: MORE than 30 minutes late
        raise TooLate("a no-show can be recorded only 30 minutes after the visit window starts (R2)")
    note = clean_note(note)
    appt.status = AppointmentStatus.no_show
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed, note=note)
    audit_change(session, appt, staff, "no_show", now)
    notify_resident(session, ctx, appt, "no_show", now=now)
    await session.commit()
    await publish(ctx, "appointments", action="no_show", number=appt.number)
    return appt


async def complete(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None,
                   note: str | None = None, paid: bool = False) -> Appointment:
    """The visit was made; R4 decides whether the resident is asked to rate it."""
    require_status(appt, AppointmentStatus.confirmed)
    check_owner(appt, staff)
    if ignition.needs_prerequisites(appt.service) and not (appt.visit_checklist or {}).get("ignited"):
        raise InvalidInput("R19: record the ignition checklist for this visit (record_ignition_visit)")
    note = clean_note(note)
    now = ctx.clock.now()
    appt.status = AppointmentStatus.completed
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed, note=note)
    audit_change(session, appt, staff, "complete", now)
    notify_resident(session, ctx, appt, "completed", now=now)
    await surveys.schedule_for_appointment(session, ctx=ctx, appt=appt, paid=paid, staff=staff, now=now)
    await session.commit()
    await publish(ctx, "appointments", action="completed", number=appt.number)
    return appt


async def record_ignition_visit(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser | None,
                                checks: Mapping[str, Any], note: str | None = None) -> Appointment:
    """R19: the technician's checklist at an ignition visit. Every item passes: the visit is completed
    (ignited). Any item fails: the visit closes as "not ignited" and the resident is told why. Commits."""
    if not ignition.needs_prerequisites(appt.service):
        raise InvalidInput("the ignition checklist is only for ignition visits")
    require_status(appt, AppointmentStatus.confirmed)
    note = clean_note(note)
    require_polite(note, what="visit note")  # R14: a not-ignited note reaches the resident
    result = {i.value: checks.get(i.value) is True for i in ignition.ITEMS}
    bad = ignition.failed(result)
    appt.visit_checklist = {**result, "ignited": not bad}
    if not bad:
        return await complete(session, ctx=ctx, appt=appt, staff=staff, note=note)
    now = ctx.clock.now()
    appt.status = AppointmentStatus.not_ignited
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed,
              note="; ".join([i.value for i in bad] + ([note] if note else [])))
    audit_change(session, appt, staff, "not_ignited", now)
    tr = ctx.translator
    reasons = "\n".join(f"• {tr.gettext(appt.language, ignition.REASONS[i])}" for i in bad)
    notify_resident(session, ctx, appt, "not_ignited", now=now, note=reasons + (f"\n{note}" if note else ""))
    await session.commit()
    await publish(ctx, "appointments", action="not_ignited", number=appt.number)
    return appt


async def assign(session: AsyncSession, *, ctx: AppContext, appt: Appointment, staff: StaffUser,
                 assignee: StaffUser) -> Appointment:
    if appt.status not in OPEN:
        raise TransitionError("only open appointments can be assigned")
    if appt.owner_id not in (None, assignee.id) and not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("this appointment already has an owner (R6); only a supervisor can reassign it")
    if appt.owner_id is None and assignee.id != staff.id and not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("only a supervisor can assign an appointment to someone else")
    now = ctx.clock.now()
    appt.owner_id = assignee.id
    appt.updated_at = now
    add_event(session, appt, kind="assigned", now=now, staff=staff, note=assignee.display_name)
    audit_change(session, appt, staff, "assign", now)
    await session.commit()
    return appt

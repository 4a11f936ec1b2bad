"""Home-visit appointments (R2): requested by the resident, answered within 1 working day.

Staff confirm, propose another slot, or refuse (refusal needs a supervisor and a reason told to the
resident). The resident gets a reminder the day before and may cancel or reschedule until 18:00 the day
before; a resident not met within 30 minutes of the window's start is recorded as a no-show.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from babel.dates import format_skeleton
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import audit, ignition, outbox, slots
from core.clock import LOCAL_TZ, local
from core.numbers import next_number
from core.staff import has_role, may_act_on
from core.tickets.base import (
    InvalidInput,
    NotAllowed,
    RequestError,
    TransitionError,
    esc,
    format_deadline,
    publish,
    require_polite,
    rollback_keeping,
)
from db.enums import AppointmentStatus, ServiceType, StaffRole
from db.models import Appointment, AppointmentEvent, Resident, StaffUser

log = logging.getLogger(__name__)

PREFIX = "YY"  # 预约
RESPOND_WORKING_DAYS = 1  # R2: every request is answered within 1 working day
CUTOFF = time(18, 0)  # residents may cancel or reschedule until 18:00 the day before
NO_SHOW_GRACE = timedelta(minutes=30)  # R2: more than 30 minutes late forfeits the appointment
REMIND_FROM = time(9, 0)  # reminders go out from 09:00 the day before
MAX_NOTE = 500

OPEN = (AppointmentStatus.requested, AppointmentStatus.proposed, AppointmentStatus.confirmed)


def N_(message: str) -> str:
    return message


SERVICE_LABELS: dict[ServiceType, str] = {
    ServiceType.ignition: N_("Gas ignition (first turn-on)"),
    ServiceType.safety_inspection: N_("Gas safety inspection"),
    ServiceType.meter_check: N_("Meter check"),
    ServiceType.appliance_repair: N_("Gas appliance repair"),
    ServiceType.modification_survey: N_("Pipe modification survey"),
    ServiceType.home_visit: N_("Home visit for elderly or disabled residents"),
}


class SlotUnavailable(RequestError):
    """The chosen day/window is full, closed, or not bookable."""


class TooLate(RequestError):
    """Past the cut-off for this change."""


def format_window(window: str) -> str:
    return f"{window[:2]}:00–{window[3:5]}:00"


def format_day(day: date, lang: str | None) -> str:
    return format_skeleton("yMMMEd", day, locale="en" if lang == "en" else "zh_Hans")


def cutoff(day: date) -> datetime:
    """Last moment a resident can cancel or change a visit on ``day``."""
    return datetime.combine(day - timedelta(days=1), CUTOFF, tzinfo=LOCAL_TZ)


def resident_can_change(appt: Appointment, now: datetime) -> bool:
    return appt.status in OPEN and now < cutoff(appt.day)


# --- proposal buttons (built here, handled by bot.routers.appointment) --------------------------------------

PROPOSAL_PREFIX = "apr"


class ProposalAction(StrEnum):
    accept = "ok"
    other = "other"  # choose another date (reschedule)
    cancel = "no"


def proposal_callback(appt_id: int, action: ProposalAction) -> str:
    """Button data; bot.routers.appointment.ProposalCallback packs to exactly this (a test checks it)."""
    return f"{PROPOSAL_PREFIX}:{appt_id}:{action.value}"


# --- messages to the resident (outbox, in their language) ---------------------------------------------------

MESSAGES = {
    "created": N_("📅 Your visit request {number} has been registered: {service}, {day}, {window}. "
                  "We will confirm it by {respond_by}."),
    "confirmed": N_("✅ Your visit {number} is confirmed: {service} on {day}, {window}, at {address}.\n"
                    "Please be at home then: if we cannot meet you within 30 minutes of the start, the visit lapses. "
                    "You can cancel or change it in 📋 My requests until {cutoff}."),
    "proposed": N_("📅 We cannot come at the time you chose for {number}. We propose {day}, {window} instead.\n"
                   "{note}"),
    "refused": N_("We are sorry, we cannot make the visit {number} ({service}).\nReason: {note}"),
    "cancelled": N_("Your visit {number} has been cancelled.\nReason: {note}"),
    "no_show": N_("We came for your visit {number} but could not meet you within 30 minutes of the start, so the "
                  "appointment has lapsed. You can book a new visit at any time."),
    "completed": N_("✅ Your visit {number} ({service}) has been completed. Thank you."),
    "not_ignited": N_("🔥 Your gas ignition {number} could not be done, for your safety:\n{note}\n"
                      "Once this is put right, please book the ignition again in 📅 Book a visit."),
    "reminder": N_("⏰ Reminder: our visit {number} ({service}) is tomorrow, {day}, {window}, at {address}. "
                   "To cancel or change it, open 📋 My requests before {cutoff}."),
}
BUTTON_ACCEPT = N_("✅ Accept this time")
BUTTON_OTHER = N_("📅 Choose another date")
BUTTON_CANCEL = N_("✖️ Cancel the visit")


def _notify(session: AsyncSession, ctx: Any, appt: Appointment, key: str, *, now: datetime,
            buttons: list[list[dict[str, Any]]] | None = None, dedupe_key: str | None = None,
            note: str | None = None) -> None:
    if appt.resident_id is None:
        return
    lang = appt.language
    tr = ctx.translator
    text = tr.gettext(lang, MESSAGES[key]).format(
        number=appt.number, service=tr.gettext(lang, SERVICE_LABELS[ServiceType(appt.service)]),
        day=format_day(appt.proposed_day if key == "proposed" else appt.day, lang),
        window=format_window(appt.proposed_window if key == "proposed" else appt.window),
        address=esc(appt.address), cutoff=format_deadline(cutoff(appt.day), lang, with_time=True),
        respond_by=format_deadline(appt.respond_by, lang), note=esc(note),
    ).rstrip()
    outbox.enqueue(session, resident_id=appt.resident_id, kind=f"appointment.{key}", now=now,
                   payload=outbox.message_payload(text, buttons=buttons), dedupe_key=dedupe_key)


def _event(session: AsyncSession, appt: Appointment, *, kind: str, now: datetime, staff: StaffUser | None = None,
           frm: AppointmentStatus | None = None, note: str | None = None) -> None:
    session.add(AppointmentEvent(appointment_id=appt.id, at=now, kind=kind,
                                 staff_id=staff.id if staff is not None else None,
                                 from_status=frm.value if frm else None,
                                 to_status=appt.status.value, note=note))


def _check_owner(appt: Appointment, staff: StaffUser | None) -> None:
    """R6 (issue 12 F10): staff act on an appointment they own, or as supervisors; ``None`` is the system."""
    if staff is not None and not may_act_on(appt.owner_id, staff):
        raise NotAllowed("this appointment is owned by another member of staff (R6); ask a supervisor to reassign it")


def _audit(session: AsyncSession, appt: Appointment, staff: StaffUser | None, action: str, now: datetime) -> None:
    if staff is not None:
        audit.record(session, at=now, staff_id=staff.id, action=f"appointment.{action}", target_type="appointment",
                     target_id=appt.number)


def _require(appt: Appointment, *allowed: AppointmentStatus) -> None:
    if appt.status not in allowed:
        raise TransitionError(f"not possible while the appointment is {appt.status.value}")


def _clean_note(note: str | None, *, required: bool = False, what: str = "a reason") -> str | None:
    note = (note or "").strip() or None
    if required and not note:
        raise InvalidInput(f"{what} is required")
    if note and len(note) > MAX_NOTE:
        raise InvalidInput(f"at most {MAX_NOTE} characters")
    return note


async def _check_bookable(session: AsyncSession, ctx: Any, *, district: str, day: date, window: str,
                          now: datetime, resident_horizon: bool) -> None:
    if not slots.valid_window(window):
        raise InvalidInput("window must look like 09-12")
    today = local(now).date()
    if day <= today:
        raise SlotUnavailable("the visit must be on a later day")
    if not ctx.calendar.is_working_day(day):
        raise SlotUnavailable("visits are made on working days only")
    if resident_horizon and day not in slots.bookable_days(ctx, now):
        raise SlotUnavailable("residents book among the next 14 working days")
    if district not in await slots.districts(session):
        raise InvalidInput("we do not make home visits in that district")


# --- requesting ---------------------------------------------------------------------------------------------


async def appointment_by_key(session: AsyncSession, key: str) -> Appointment | None:
    return (await session.execute(select(Appointment).where(Appointment.idempotency_key == key))).scalar_one_or_none()


async def request_appointment(
    session: AsyncSession, *, ctx: Any, resident: Resident | None, service: ServiceType | str, district: str,
    address: str, day: date, window: str, contact_phone: str | None = None, note: str | None = None,
    account_id: int | None = None, idempotency_key: str | None = None, staff: StaffUser | None = None,
    language: str | None = None, prerequisites: Mapping[str, Any] | None = None,
) -> Appointment:
    """Book a place in a district's window and register the request (R2); commits.

    Raises SlotUnavailable when the place was taken meanwhile. The same idempotency key returns the same
    appointment. An ignition needs every R19 prerequisite confirmed (``prerequisites``), else InvalidInput.
    """
    if idempotency_key:
        existing = await appointment_by_key(session, idempotency_key)
        if existing is not None:
            return existing
    service = ServiceType(service)
    confirmed = ignition.check_booking(service, prerequisites)  # R19
    address = " ".join((address or "").split())
    if not 2 <= len(address) <= 255:
        raise InvalidInput("the address must be 2 to 255 characters")
    note = _clean_note(note)
    now = ctx.clock.now()
    await _check_bookable(session, ctx, district=district, day=day, window=window, now=now,
                          resident_horizon=staff is None)
    lang = language or (resident.language if resident is not None else None)
    lang = "en" if lang == "en" else "zh_Hans"
    try:
        async with slots.slot_lock(session, district, day, window):
            if await slots.free_places(session, district=district, day=day, window=window) <= 0:
                raise SlotUnavailable("that time is fully booked")
            number = await next_number(session, PREFIX, now)
            appt = Appointment(
                number=number, resident_id=resident.id if resident is not None else None, account_id=account_id,
                service=service, status=AppointmentStatus.requested, district=district, address=address, day=day,
                window=window, contact_phone=contact_phone, note=note, language=lang,
                idempotency_key=idempotency_key, respond_by=ctx.calendar.deadline(now, RESPOND_WORKING_DAYS),
                created_at=now, updated_at=now, prerequisites=confirmed,
            )
            session.add(appt)
            await session.flush()
            _event(session, appt, kind="created", now=now, staff=staff)
            _audit(session, appt, staff, "create", now)
            if staff is not None:  # a phone or counter request: tell the resident in writing
                _notify(session, ctx, appt, "created", now=now)
            await session.commit()
    except IntegrityError:
        await rollback_keeping(session, resident, staff)
        if idempotency_key:
            existing = await appointment_by_key(session, idempotency_key)
            if existing is not None:
                return existing
        raise
    await publish(ctx, "appointments", action="created", number=appt.number, day=day.isoformat())
    return appt


# --- staff answers (R2) -------------------------------------------------------------------------------------


async def confirm(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None,
                  note: str | None = None) -> Appointment:
    _require(appt, AppointmentStatus.requested)
    note = _clean_note(note)
    _check_owner(appt, staff)
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.confirmed
    appt.updated_at = now
    if staff is not None and staff.id is not None and appt.owner_id is None:
        appt.owner_id = staff.id
    _event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=note)
    _audit(session, appt, staff, "confirm", now)
    _notify(session, ctx, appt, "confirmed", now=now)
    await session.commit()
    await publish(ctx, "appointments", action="confirmed", number=appt.number)
    return appt


async def propose_slot(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None, day: date,
                       window: str, note: str | None = None) -> Appointment:
    """Offer another day/window; the resident accepts, picks another date, or cancels."""
    _require(appt, AppointmentStatus.requested)
    note = _clean_note(note)
    _check_owner(appt, staff)
    require_polite(note, what="note")  # R14: sent to the resident with the proposal
    now = ctx.clock.now()
    await _check_bookable(session, ctx, district=appt.district, day=day, window=window, now=now,
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
    _event(session, appt, kind="proposed", now=now, staff=staff, frm=frm,
           note=f"{day.isoformat()} {window}" + (f": {note}" if note else ""))
    _audit(session, appt, staff, "propose", now)
    tr = ctx.translator
    buttons = [
        [{"text": tr.gettext(appt.language, BUTTON_ACCEPT),
          "callback_data": proposal_callback(appt.id, ProposalAction.accept)}],
        [{"text": tr.gettext(appt.language, BUTTON_OTHER),
          "callback_data": proposal_callback(appt.id, ProposalAction.other)}],
        [{"text": tr.gettext(appt.language, BUTTON_CANCEL),
          "callback_data": proposal_callback(appt.id, ProposalAction.cancel)}],
    ]
    _notify(session, ctx, appt, "proposed", now=now, buttons=buttons, note=note)
    await session.commit()
    await publish(ctx, "appointments", action="proposed", number=appt.number)
    return appt


async def refuse(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser, reason: str) -> Appointment:
    """R2: a refusal needs the approval of management (here: a supervisor) and a reason told to the applicant."""
    if staff is None or not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("refusing an appointment needs a supervisor (R2)")
    _require(appt, AppointmentStatus.requested, AppointmentStatus.proposed)
    reason = _clean_note(reason, required=True)
    require_polite(reason, what="refusal reason")  # R14: the reason is told to the applicant
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.refused
    appt.refusal_reason = reason
    appt.refused_by_id = staff.id
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=reason)
    _audit(session, appt, staff, "refuse", now)
    _notify(session, ctx, appt, "refused", now=now, note=reason)
    await session.commit()
    await publish(ctx, "appointments", action="refused", number=appt.number)
    return appt


async def cancel_by_staff(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None,
                          reason: str) -> Appointment:
    """R2: cancelling a resident's visit needs a supervisor (others ask through core.approvals)."""
    if staff is not None and not has_role(staff.role, StaffRole.supervisor):
        raise NotAllowed("cancelling a resident's visit needs a supervisor's approval (R2): "
                         "ask for it with the reason the resident will read")
    _require(appt, *OPEN)
    reason = _clean_note(reason, required=True)
    _check_owner(appt, staff)
    require_polite(reason, what="cancellation reason")  # R14: the reason is told to the resident
    now = ctx.clock.now()
    frm = appt.status
    appt.status = AppointmentStatus.cancelled
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, staff=staff, frm=frm, note=reason)
    _audit(session, appt, staff, "cancel", now)
    _notify(session, ctx, appt, "cancelled", now=now, note=reason)
    await session.commit()
    await publish(ctx, "appointments", action="cancelled", number=appt.number)
    return appt


async def record_no_show(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None,
                         note: str | None = None) -> Appointment:
    """R2: the resident was not met within 30 minutes of the window's start."""
    _require(appt, AppointmentStatus.confirmed)
    _check_owner(appt, staff)
    now = ctx.clock.now()
    if now <= slots.window_start(appt.day, appt.window) + NO_SHOW_GRACE:  # R2: MORE than 30 minutes late
        raise TooLate("a no-show can be recorded only 30 minutes after the visit window starts (R2)")
    note = _clean_note(note)
    appt.status = AppointmentStatus.no_show
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed, note=note)
    _audit(session, appt, staff, "no_show", now)
    _notify(session, ctx, appt, "no_show", now=now)
    await session.commit()
    await publish(ctx, "appointments", action="no_show", number=appt.number)
    return appt


async def complete(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None,
                   note: str | None = None, paid: bool = False) -> Appointment:
    """The visit was made; R4 decides whether the resident is asked to rate it."""
    _require(appt, AppointmentStatus.confirmed)
    _check_owner(appt, staff)
    if ignition.needs_prerequisites(appt.service) and not (appt.visit_checklist or {}).get("ignited"):
        raise InvalidInput("R19: record the ignition checklist for this visit (record_ignition_visit)")
    note = _clean_note(note)
    now = ctx.clock.now()
    appt.status = AppointmentStatus.completed
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed, note=note)
    _audit(session, appt, staff, "complete", now)
    _notify(session, ctx, appt, "completed", now=now)
    from core import surveys

    await surveys.schedule_for_appointment(session, ctx=ctx, appt=appt, paid=paid, staff=staff, now=now)
    await session.commit()
    await publish(ctx, "appointments", action="completed", number=appt.number)
    return appt


async def record_ignition_visit(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser | None,
                                checks: Mapping[str, Any], note: str | None = None) -> Appointment:
    """R19: the technician's checklist at an ignition visit. Every item passes: the visit is completed
    (ignited). Any item fails: the visit closes as "not ignited" and the resident is told why. Commits."""
    if not ignition.needs_prerequisites(appt.service):
        raise InvalidInput("the ignition checklist is only for ignition visits")
    _require(appt, AppointmentStatus.confirmed)
    note = _clean_note(note)
    require_polite(note, what="visit note")  # R14: a not-ignited note reaches the resident
    result = {i.value: checks.get(i.value) is True for i in ignition.ITEMS}
    bad = ignition.failed(result)
    appt.visit_checklist = {**result, "ignited": not bad}
    if not bad:
        return await complete(session, ctx=ctx, appt=appt, staff=staff, note=note)
    now = ctx.clock.now()
    appt.status = AppointmentStatus.not_ignited
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, staff=staff, frm=AppointmentStatus.confirmed,
           note="; ".join([i.value for i in bad] + ([note] if note else [])))
    _audit(session, appt, staff, "not_ignited", now)
    tr = ctx.translator
    reasons = "\n".join(f"• {tr.gettext(appt.language, ignition.REASONS[i])}" for i in bad)
    _notify(session, ctx, appt, "not_ignited", now=now, note=reasons + (f"\n{note}" if note else ""))
    await session.commit()
    await publish(ctx, "appointments", action="not_ignited", number=appt.number)
    return appt


async def assign(session: AsyncSession, *, ctx: Any, appt: Appointment, staff: StaffUser,
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
    _event(session, appt, kind="assigned", now=now, staff=staff, note=assignee.display_name)
    _audit(session, appt, staff, "assign", now)
    await session.commit()
    return appt


# --- the resident's own changes -----------------------------------------------------------------------------


def _own(appt: Appointment, resident: Resident) -> None:
    if appt.resident_id != resident.id:
        raise NotAllowed("not your appointment")


async def cancel_by_resident(session: AsyncSession, *, ctx: Any, appt: Appointment,
                             resident: Resident) -> Appointment:
    _own(appt, resident)
    _require(appt, *OPEN)
    now = ctx.clock.now()
    if now >= cutoff(appt.day):
        raise TooLate("the cut-off for changes has passed")
    frm = appt.status
    appt.status = AppointmentStatus.cancelled
    appt.updated_at = now
    _event(session, appt, kind="status", now=now, frm=frm, note="cancelled by the resident")
    await session.commit()
    await publish(ctx, "appointments", action="cancelled", number=appt.number)
    return appt


async def reschedule(session: AsyncSession, *, ctx: Any, appt: Appointment, resident: Resident, day: date,
                     window: str) -> Appointment:
    """Move the visit to another free slot before the cut-off; it needs confirming again (R2)."""
    _own(appt, resident)
    _require(appt, *OPEN)
    now = ctx.clock.now()
    if now >= cutoff(appt.day):
        raise TooLate("the cut-off for changes has passed")
    await _check_bookable(session, ctx, district=appt.district, day=day, window=window, now=now,
                          resident_horizon=True)
    async with slots.slot_lock(session, appt.district, day, window):
        same = (day, window) == (appt.day, appt.window)
        if not same and await slots.free_places(session, district=appt.district, day=day, window=window) <= 0:
            raise SlotUnavailable("that time is fully booked")
        frm = appt.status
        old = f"{appt.day.isoformat()} {appt.window}"
        appt.day, appt.window = day, window
        appt.proposed_day = appt.proposed_window = None
        appt.status = AppointmentStatus.requested
        appt.respond_by = ctx.calendar.deadline(now, RESPOND_WORKING_DAYS)
        appt.reminder_sent_at = None
        appt.updated_at = now
        _event(session, appt, kind="rescheduled", now=now, frm=frm, note=f"{old} -> {day.isoformat()} {window}")
        await session.commit()
    await publish(ctx, "appointments", action="rescheduled", number=appt.number)
    return appt


async def accept_proposal(session: AsyncSession, *, ctx: Any, appt: Appointment,
                          resident: Resident) -> Appointment:
    _own(appt, resident)
    _require(appt, AppointmentStatus.proposed)
    day, window = appt.proposed_day, appt.proposed_window
    now = ctx.clock.now()
    if day is None or window is None or day <= local(now).date():
        raise SlotUnavailable("the proposed time has passed")
    async with slots.slot_lock(session, appt.district, day, window):
        same = (day, window) == (appt.day, appt.window)
        if not same and await slots.free_places(session, district=appt.district, day=day, window=window) <= 0:
            raise SlotUnavailable("the proposed time is no longer free")
        appt.day, appt.window = day, window
        appt.proposed_day = appt.proposed_window = None
        appt.status = AppointmentStatus.confirmed
        appt.reminder_sent_at = None
        appt.updated_at = now
        _event(session, appt, kind="status", now=now, frm=AppointmentStatus.proposed, note="proposal accepted")
        await session.commit()
    await publish(ctx, "appointments", action="confirmed", number=appt.number)
    return appt


async def resident_appointment(session: AsyncSession, *, appt_id: int, resident_id: int) -> Appointment | None:
    appt = await session.get(Appointment, appt_id)
    if appt is None or appt.resident_id != resident_id:
        return None
    return appt


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class AppointmentFilters:
    day: date | None = None
    from_day: date | None = None
    to_day: date | None = None
    status: tuple[AppointmentStatus, ...] = ()
    district: str | None = None
    service: ServiceType | None = None
    owner_id: int | None = None
    resident_id: int | None = None
    unanswered_overdue: bool = False  # still 'requested' after respond_by (R2)


async def list_appointments(session: AsyncSession, filters: AppointmentFilters | None = None, *,
                            now: datetime | None = None, limit: int = 200, offset: int = 0) -> list[Appointment]:
    """Appointments by day and window (a day's work list when ``day`` is given)."""
    f = filters or AppointmentFilters()
    query = select(Appointment)
    if f.day:
        query = query.where(Appointment.day == f.day)
    if f.from_day:
        query = query.where(Appointment.day >= f.from_day)
    if f.to_day:
        query = query.where(Appointment.day <= f.to_day)
    if f.status:
        query = query.where(Appointment.status.in_(f.status))
    if f.district:
        query = query.where(Appointment.district == f.district)
    if f.service:
        query = query.where(Appointment.service == ServiceType(f.service))
    if f.owner_id is not None:
        query = query.where(Appointment.owner_id == f.owner_id)
    if f.resident_id is not None:
        query = query.where(Appointment.resident_id == f.resident_id)
    if f.unanswered_overdue:
        if now is None:
            raise InvalidInput("the overdue filter needs the current time")
        query = query.where(Appointment.status == AppointmentStatus.requested, Appointment.respond_by < now)
    query = query.order_by(Appointment.day, Appointment.window, Appointment.id)
    return list((await session.execute(query.limit(max(1, min(limit, 500))).offset(max(0, offset)))).scalars())


async def get_appointment(session: AsyncSession, ref: str | int) -> Appointment | None:
    query = select(Appointment).options(selectinload(Appointment.events))
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        query = query.where(Appointment.id == int(ref))
    else:
        query = query.where(Appointment.number == ref.strip().upper())
    return (await session.execute(query)).scalar_one_or_none()


# --- periodic work ------------------------------------------------------------------------------------------


async def send_reminders(session: AsyncSession, *, ctx: Any, now: datetime) -> list[str]:
    """The day-before reminder of confirmed visits, once each (claimed with a conditional UPDATE)."""
    loc = local(now)
    if loc.time() < REMIND_FROM:
        return []
    tomorrow = loc.date() + timedelta(days=1)
    due = (await session.execute(
        select(Appointment).where(Appointment.status == AppointmentStatus.confirmed, Appointment.day == tomorrow,
                                  Appointment.reminder_sent_at.is_(None))
    )).scalars().all()
    sent = []
    for appt in due:
        claimed = await session.execute(
            update(Appointment).where(Appointment.id == appt.id, Appointment.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now).returning(Appointment.id)
        )
        if claimed.scalar_one_or_none() is None:
            continue
        _notify(session, ctx, appt, "reminder", now=now, dedupe_key=f"appt-reminder:{appt.id}:{appt.day.isoformat()}")
        session.add(AppointmentEvent(appointment_id=appt.id, at=now, kind="reminder"))
        sent.append(appt.number)
    await session.commit()
    return sent


async def escalate_unanswered(session: AsyncSession, *, ctx: Any, now: datetime) -> list[str]:
    """R2: requests still unanswered after 1 working day are flagged once and supervisors alerted."""
    already = exists().where(AppointmentEvent.appointment_id == Appointment.id, AppointmentEvent.kind == "escalated")
    rows = (await session.execute(
        select(Appointment).where(Appointment.status == AppointmentStatus.requested, Appointment.respond_by < now,
                                  ~already).limit(500)
    )).scalars().all()
    numbers = []
    for appt in rows:
        session.add(AppointmentEvent(appointment_id=appt.id, at=now, kind="escalated", note="R2: not answered in time"))
        numbers.append(appt.number)
    await session.commit()
    for n in numbers:
        await publish(ctx, "supervisor.alert", reason="appointment_unanswered", number=n)
    return numbers

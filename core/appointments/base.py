"""What the appointment modules share: R2 times, service labels, errors, messages and small helpers."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal, overload

from babel.dates import format_skeleton
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, outbox, slots
from core.clock import LOCAL_TZ, local
from core.context import AppContext
from core.staff import may_act_on
from core.tickets.base import InvalidInput, NotAllowed, RequestError, TransitionError, esc, format_deadline
from db.enums import AppointmentStatus, ServiceType
from db.models import Appointment, AppointmentEvent, StaffUser

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


def notify_resident(session: AsyncSession, ctx: AppContext, appt: Appointment, key: str, *, now: datetime,
                    buttons: list[list[dict[str, Any]]] | None = None, dedupe_key: str | None = None,
                    note: str | None = None) -> None:
    if appt.resident_id is None:
        return
    lang = appt.language
    tr = ctx.translator
    day, window = appt.day, appt.window
    if key == "proposed" and appt.proposed_day is not None and appt.proposed_window is not None:
        day, window = appt.proposed_day, appt.proposed_window  # always set with the "proposed" status
    text = tr.gettext(lang, MESSAGES[key]).format(
        number=appt.number, service=tr.gettext(lang, SERVICE_LABELS[ServiceType(appt.service)]),
        day=format_day(day, lang), window=format_window(window),
        address=esc(appt.address), cutoff=format_deadline(cutoff(appt.day), lang, with_time=True),
        respond_by=format_deadline(appt.respond_by, lang), note=esc(note),
    ).rstrip()
    outbox.enqueue(session, resident_id=appt.resident_id, kind=f"appointment.{key}", now=now,
                   payload=outbox.message_payload(text, buttons=buttons), dedupe_key=dedupe_key)


def add_event(session: AsyncSession, appt: Appointment, *, kind: str, now: datetime, staff: StaffUser | None = None,
              frm: AppointmentStatus | None = None, note: str | None = None) -> None:
    session.add(AppointmentEvent(appointment_id=appt.id, at=now, kind=kind,
                                 staff_id=staff.id if staff is not None else None,
                                 from_status=frm.value if frm else None,
                                 to_status=appt.status.value, note=note))


def check_owner(appt: Appointment, staff: StaffUser | None) -> None:
    """R6 (issue 12 F10): staff act on an appointment they own, or as supervisors; ``None`` is the system."""
    if staff is not None and not may_act_on(appt.owner_id, staff):
        raise NotAllowed("this appointment is owned by another member of staff (R6); ask a supervisor to reassign it")


def audit_change(session: AsyncSession, appt: Appointment, staff: StaffUser | None, action: str, now: datetime) -> None:
    if staff is not None:
        audit.record(session, at=now, staff_id=staff.id, action=f"appointment.{action}", target_type="appointment",
                     target_id=appt.number)


def require_status(appt: Appointment, *allowed: AppointmentStatus) -> None:
    if appt.status not in allowed:
        raise TransitionError(f"not possible while the appointment is {appt.status.value}")


@overload
def clean_note(note: str | None, *, required: Literal[True], what: str = ...) -> str: ...
@overload
def clean_note(note: str | None, *, required: bool = False, what: str = ...) -> str | None: ...


def clean_note(note: str | None, *, required: bool = False, what: str = "a reason") -> str | None:
    note = (note or "").strip() or None
    if required and not note:
        raise InvalidInput(f"{what} is required")
    if note and len(note) > MAX_NOTE:
        raise InvalidInput(f"at most {MAX_NOTE} characters")
    return note


async def check_bookable(session: AsyncSession, ctx: AppContext, *, district: str, day: date, window: str,
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

"""A resident (or staff for them) books a visit (R2, R19); the resident cancels, reschedules or accepts
a proposal until 18:00 the day before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ignition, slots
from core.appointments.base import (
    OPEN,
    PREFIX,
    RESPOND_WORKING_DAYS,
    SlotUnavailable,
    TooLate,
    add_event,
    audit_change,
    check_bookable,
    clean_note,
    cutoff,
    notify_resident,
    require_status,
)
from core.clock import local
from core.context import AppContext
from core.numbers import next_number
from core.tickets.base import InvalidInput, NotAllowed, publish, rollback_keeping
from db.enums import AppointmentStatus, ServiceType
from db.models import Appointment, Resident, StaffUser

# --- requesting ---------------------------------------------------------------------------------------------


async def appointment_by_key(session: AsyncSession, key: str) -> Appointment | None:
    return (await session.execute(select(Appointment).where(Appointment.idempotency_key == key))).scalar_one_or_none()


async def request_appointment(
    session: AsyncSession, *, ctx: AppContext, resident: Resident | None, service: ServiceType | str, district: str,
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
    note = clean_note(note)
    now = ctx.clock.now()
    await check_bookable(session, ctx, district=district, day=day, window=window, now=now,
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
            add_event(session, appt, kind="created", now=now, staff=staff)
            audit_change(session, appt, staff, "create", now)
            if staff is not None:  # a phone or counter request: tell the resident in writing
                notify_resident(session, ctx, appt, "created", now=now)
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


# --- the resident's own changes -----------------------------------------------------------------------------


def _own(appt: Appointment, resident: Resident) -> None:
    if appt.resident_id != resident.id:
        raise NotAllowed("not your appointment")


async def cancel_by_resident(session: AsyncSession, *, ctx: AppContext, appt: Appointment,
                             resident: Resident) -> Appointment:
    _own(appt, resident)
    require_status(appt, *OPEN)
    now = ctx.clock.now()
    if now >= cutoff(appt.day):
        raise TooLate("the cut-off for changes has passed")
    frm = appt.status
    appt.status = AppointmentStatus.cancelled
    appt.updated_at = now
    add_event(session, appt, kind="status", now=now, frm=frm, note="cancelled by the resident")
    await session.commit()
    await publish(ctx, "appointments", action="cancelled", number=appt.number)
    return appt


async def reschedule(session: AsyncSession, *, ctx: AppContext, appt: Appointment, resident: Resident, day: date,
                     window: str) -> Appointment:
    """Move the visit to another free slot before the cut-off; it needs confirming again (R2)."""
    _own(appt, resident)
    require_status(appt, *OPEN)
    now = ctx.clock.now()
    if now >= cutoff(appt.day):
        raise TooLate("the cut-off for changes has passed")
    await check_bookable(session, ctx, district=appt.district, day=day, window=window, now=now,
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
        add_event(session, appt, kind="rescheduled", now=now, frm=frm, note=f"{old} -> {day.isoformat()} {window}")
        await session.commit()
    await publish(ctx, "appointments", action="rescheduled", number=appt.number)
    return appt


async def accept_proposal(session: AsyncSession, *, ctx: AppContext, appt: Appointment,
                          resident: Resident) -> Appointment:
    _own(appt, resident)
    require_status(appt, AppointmentStatus.proposed)
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
        add_event(session, appt, kind="status", now=now, frm=AppointmentStatus.proposed, note="proposal accepted")
        await session.commit()
    await publish(ctx, "appointments", action="confirmed", number=appt.number)
    return appt


async def resident_appointment(session: AsyncSession, *, appt_id: int, resident_id: int) -> Appointment | None:
    appt = await session.get(Appointment, appt_id)
    if appt is None or appt.resident_id != resident_id:
        return None
    return appt

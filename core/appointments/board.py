"""The appointment board: filtered lists for the console and the API, one appointment; and the
periodic work (day-before reminders, requests unanswered after 1 working day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.appointments.base import REMIND_FROM, notify_resident
from core.clock import local
from core.context import AppContext
from core.tickets.base import InvalidInput, publish
from db.enums import AppointmentStatus, ServiceType
from db.models import Appointment, AppointmentEvent

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


async def send_reminders(session: AsyncSession, *, ctx: AppContext, now: datetime) -> list[str]:
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
        notify_resident(session, ctx, appt, "reminder", now=now,
                        dedupe_key=f"appt-reminder:{appt.id}:{appt.day.isoformat()}")
        session.add(AppointmentEvent(appointment_id=appt.id, at=now, kind="reminder"))
        sent.append(appt.number)
    await session.commit()
    return sent


async def escalate_unanswered(session: AsyncSession, *, ctx: AppContext, now: datetime) -> list[str]:
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

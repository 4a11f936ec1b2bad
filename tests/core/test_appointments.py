"""core.appointments and core.slots (R2): capacity, the 14-working-day calendar, answers within 1 working day,
refusal by a supervisor, cut-off, reminders, no-show after 30 minutes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from core import appointments, slots, tickets
from core.clock import LOCAL_TZ
from db.enums import AppointmentStatus, ServiceType, StaffRole
from db.models import Appointment, AppointmentEvent, Resident
from tests.support.demo import WANG, ZHANG, outbox_rows

TUE = date(2026, 11, 24)
WED = date(2026, 11, 25)


async def _book(ctx, session, *, rid=WANG, day=TUE, window="09-12", district="城东区", key=None) -> Appointment:
    return await appointments.request_appointment(
        session, ctx=ctx, resident=await session.get(Resident, rid), service=ServiceType.safety_inspection,
        district=district, address="城东区人民路1号", day=day, window=window, contact_phone="13800000001",
        idempotency_key=key)


async def test_bookable_days_are_the_next_14_working_days(ctx, session, demo_town, clock) -> None:
    days = slots.bookable_days(ctx, clock.now())
    assert len(days) == 14 and days[0] == TUE and all(ctx.calendar.is_working_day(d) for d in days)
    assert date(2026, 11, 28) not in days  # Saturday
    avail = await slots.available_days(session, ctx=ctx, district="城东区", now=clock.now())
    assert [d.day for d in avail] == days and all(d.free == 8 for d in avail)  # 2 windows x 4 (demo)


async def test_capacity_is_counted_and_a_full_day_disappears(ctx, session, demo_town, clock) -> None:
    for i in range(4):
        await _book(ctx, session, key=f"k{i}")
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, key="k5")
    assert await slots.free_places(session, district="城东区", day=TUE, window="09-12") == 0
    for i in range(4):
        await _book(ctx, session, window="14-17", key=f"p{i}")
    avail = await slots.available_days(session, ctx=ctx, district="城东区", now=clock.now())
    assert TUE not in [d.day for d in avail]
    # Cancelling frees the place again.
    appt = (await session.execute(select(Appointment).limit(1))).scalar_one()
    await appointments.cancel_by_resident(session, ctx=ctx, appt=appt, resident=await session.get(Resident, WANG))
    assert await slots.free_places(session, district="城东区", day=TUE, window=appt.window) == 1


async def test_date_overrides_and_closed_windows(ctx, session, staffers, clock) -> None:
    sup = staffers[StaffRole.supervisor]
    await slots.set_capacity(session, ctx=ctx, staff=sup, district="城东区", window="09-12", capacity=0, day=WED)
    await slots.set_capacity(session, ctx=ctx, staff=sup, district="城东区", window="14-17", capacity=1, day=WED)
    (wed,) = await slots.availability(session, "城东区", [WED])
    assert {w.window: w.free for w in wed.windows} == {"09-12": 0, "14-17": 1}
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, day=WED, window="09-12")
    await _book(ctx, session, day=WED, window="14-17")
    avail = await slots.available_days(session, ctx=ctx, district="城东区", now=clock.now())
    assert WED not in [d.day for d in avail]
    with pytest.raises(slots.CapacityError):
        await slots.set_capacity(session, ctx=ctx, staff=sup, district="城东区", window="9-12", capacity=1)
    assert await slots.remove_override(session, ctx=ctx, staff=sup, district="城东区", window="09-12", day=WED)


async def test_request_rules(ctx, session, demo_town, clock) -> None:
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, day=date(2026, 11, 23))  # today
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, day=date(2026, 11, 20))  # the past
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, day=date(2026, 11, 28))  # a Saturday
    with pytest.raises(appointments.SlotUnavailable):
        await _book(ctx, session, day=date(2027, 1, 29))  # beyond 14 working days
    with pytest.raises(tickets.InvalidInput):
        await _book(ctx, session, district="火星区")
    appt = await _book(ctx, session, key="once")
    again = await _book(ctx, session, key="once")
    assert appt.id == again.id and appt.number == "YY-20261123-0001"
    # R2: answered within 1 working day.
    assert appt.respond_by.astimezone(LOCAL_TZ).replace(tzinfo=None) == datetime(2026, 11, 24, 23, 59, 59)


async def test_staff_answers_confirm_propose_refuse(ctx, session, staffers) -> None:
    agent, sup = staffers[StaffRole.agent], staffers[StaffRole.supervisor]
    a = await _book(ctx, session, key="a")
    await appointments.confirm(session, ctx=ctx, appt=a, staff=agent)
    assert a.status is AppointmentStatus.confirmed and a.owner_id == agent.id
    b = await _book(ctx, session, key="b")
    await appointments.propose_slot(session, ctx=ctx, appt=b, staff=agent, day=WED, window="14-17", note="busy")
    assert b.status is AppointmentStatus.proposed
    await appointments.accept_proposal(session, ctx=ctx, appt=b, resident=await session.get(Resident, WANG))
    assert (b.status, b.day, b.window) == (AppointmentStatus.confirmed, WED, "14-17")
    c = await _book(ctx, session, key="c")
    with pytest.raises(tickets.NotAllowed):  # R2: refusal needs management approval
        await appointments.refuse(session, ctx=ctx, appt=c, staff=agent, reason="no")
    with pytest.raises(tickets.InvalidInput):
        await appointments.refuse(session, ctx=ctx, appt=c, staff=sup, reason=" ")
    await appointments.refuse(session, ctx=ctx, appt=c, staff=sup, reason="Outside our service area")
    assert c.status is AppointmentStatus.refused and c.refused_by_id == sup.id
    rows = [r for r in await outbox_rows(ctx, WANG)]
    kinds = [r.kind for r in rows]
    assert kinds == ["appointment.confirmed", "appointment.proposed", "appointment.refused"]
    assert "Outside our service area" in rows[-1].payload["text"]
    proposal_buttons = rows[1].payload["reply_markup"]["inline_keyboard"]
    assert proposal_buttons[0][0]["callback_data"] == f"apr:{b.id}:ok"


async def test_resident_cutoff_and_reschedule(ctx, session, demo_town, clock) -> None:
    resident = await session.get(Resident, WANG)
    a = await _book(ctx, session, key="a")
    moved = await appointments.reschedule(session, ctx=ctx, appt=a, resident=resident, day=WED, window="14-17")
    assert (moved.day, moved.window, moved.status) == (WED, "14-17", AppointmentStatus.requested)
    other = await session.get(Resident, ZHANG)
    with pytest.raises(tickets.NotAllowed):
        await appointments.cancel_by_resident(session, ctx=ctx, appt=a, resident=other)
    clock.set(datetime(2026, 11, 24, 18, 0))  # 18:00 the day before Wednesday: too late
    with pytest.raises(appointments.TooLate):
        await appointments.cancel_by_resident(session, ctx=ctx, appt=a, resident=resident)
    clock.set(datetime(2026, 11, 24, 17, 59))
    await appointments.cancel_by_resident(session, ctx=ctx, appt=a, resident=resident)
    assert a.status is AppointmentStatus.cancelled


async def test_reminder_the_day_before_once(ctx, session, staffers, clock) -> None:
    a = await _book(ctx, session, day=WED, key="a")
    await appointments.confirm(session, ctx=ctx, appt=a, staff=staffers[StaffRole.agent])
    assert await appointments.send_reminders(session, ctx=ctx, now=clock.now()) == []  # Monday: too early
    clock.set(datetime(2026, 11, 24, 9, 30))
    assert await appointments.send_reminders(session, ctx=ctx, now=clock.now()) == [a.number]
    assert await appointments.send_reminders(session, ctx=ctx, now=clock.now()) == []
    reminders = [r for r in await outbox_rows(ctx, WANG) if r.kind == "appointment.reminder"]
    assert len(reminders) == 1 and "明天" in reminders[0].payload["text"]


async def test_no_show_only_after_30_minutes(ctx, session, staffers, clock) -> None:
    agent = staffers[StaffRole.agent]
    a = await _book(ctx, session, key="a")
    await appointments.confirm(session, ctx=ctx, appt=a, staff=agent)
    clock.set(datetime(2026, 11, 24, 9, 29))
    with pytest.raises(appointments.TooLate):
        await appointments.record_no_show(session, ctx=ctx, appt=a, staff=agent)
    clock.set(datetime(2026, 11, 24, 9, 31))
    await appointments.record_no_show(session, ctx=ctx, appt=a, staff=agent, note="nobody home")
    assert a.status is AppointmentStatus.no_show
    assert await slots.free_places(session, district="城东区", day=TUE, window="09-12") == 3  # the visit happened


async def test_unanswered_requests_are_escalated(ctx, session, demo_town, clock) -> None:
    a = await _book(ctx, session, key="a")
    assert await appointments.escalate_unanswered(session, ctx=ctx, now=clock.now()) == []
    later = clock.now() + timedelta(days=2)
    assert await appointments.escalate_unanswered(session, ctx=ctx, now=later) == [a.number]
    assert await appointments.escalate_unanswered(session, ctx=ctx, now=later) == []
    kinds = (await session.execute(select(AppointmentEvent.kind).where(AppointmentEvent.appointment_id == a.id)))
    assert "escalated" in kinds.scalars().all()


async def test_list_by_day(ctx, session, demo_town) -> None:
    await _book(ctx, session, key="a")
    await _book(ctx, session, key="b", day=WED)
    rows = await appointments.list_appointments(session, appointments.AppointmentFilters(day=TUE))
    assert [r.day for r in rows] == [TUE]

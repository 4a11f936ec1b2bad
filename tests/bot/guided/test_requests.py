"""Guided mode: my requests with status and deadline, and cancelling by buttons with a confirmation."""

from __future__ import annotations

from core import appointments, slots, tickets
from db.enums import AppointmentStatus, ServiceType, TicketKind, TicketStatus
from db.models import Appointment, Resident, Ticket
from tests import updates
from tests.support.demo import GRANNY


async def seed(ctx) -> tuple[Ticket, Ticket, Appointment]:
    async with ctx.sessionmaker() as s:
        granny = await s.get(Resident, GRANNY)
        fault = await tickets.create_ticket(s, ctx=ctx, kind=TicketKind.fault, resident=granny, subject="没有燃气",
                                            category="no_gas", idempotency_key="r1")
        taken = await tickets.create_ticket(s, ctx=ctx, kind=TicketKind.fault, resident=granny, subject="表坏了",
                                            category="meter_fault", idempotency_key="r2")
        taken.status = TicketStatus.in_progress  # somebody works on it: no longer cancellable here
        await s.commit()
        day = slots.bookable_days(ctx, ctx.clock.now())[2]
        visit = await appointments.request_appointment(
            s, ctx=ctx, resident=granny, service=ServiceType.safety_inspection, district="城南区",
            address="城南区南山路9号", day=day, window="09-12", idempotency_key="r3")
        return fault, taken, visit


async def test_requests_show_status_and_deadline_and_cancel_with_confirmation(granny, demo_town_guided) -> None:
    fault, taken, visit = await seed(demo_town_guided)
    await granny.start()
    await granny.tap("➕")
    listing = await granny.tap("📋")
    assert "3" in listing.text
    assert any("安检" in b for b in listing.flat) and any("没有燃气" in b for b in listing.flat)

    # A request being worked on: status, no cancel button.
    screen = await granny.tap("表具故障")
    assert taken.number in screen.text and "处理中" in screen.text and "前办好" in screen.text
    assert not any("✖️" in b for b in screen.flat)
    assert (await granny.back()).flat == listing.flat

    # A new fault report: status and deadline; cancel asks first; Back on the question changes nothing.
    screen = await granny.tap("没有燃气")
    assert fault.number in screen.text and "前办好" in screen.text
    question = await granny.tap("✖️")
    assert fault.number in question.text
    await granny.back()
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Ticket, fault.id)).status is TicketStatus.new
    await granny.tap("✖️")
    screen = await granny.tap("✅")
    assert fault.number in screen.texts[0]
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Ticket, fault.id)).status is TicketStatus.cancelled
        assert (await s.get(Ticket, taken.id)).status is TicketStatus.in_progress
    # The list again; Back from it goes home, not into the finished question.
    assert any("没有燃气" in b for b in screen.flat)
    assert any("➕" in b for b in (await granny.back()).flat)

    # A visit: day and window, then cancelled the same way.
    await granny.tap("➕")
    await granny.tap("📋")
    screen = await granny.tap("安检")
    assert visit.number in screen.text and "09:00" in screen.text and "前确认" in screen.text
    await granny.tap("✖️")
    await granny.tap("✅")
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Appointment, visit.id)).status is AppointmentStatus.cancelled


async def test_no_requests_offers_the_two_main_services_and_typed_numbers_work(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("➕")
    screen = await granny._feed(updates.text("2", user_id=GRANNY))  # typing the number = tapping it
    assert "还没有" in screen.text
    assert any("🛠" in b for b in screen.flat) and any("📅" in b for b in screen.flat)

"""core.tickets: numbers, deadlines (R3, R7, R10), idempotency, transitions, R6 ownership, outbox notices,
duplicates, complaints (R5) and escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import tickets
from core.clock import LOCAL_TZ
from db.enums import Priority, StaffRole, TicketKind, TicketStatus, Utility
from db.models import AuditLog, Resident, Ticket, TicketEvent
from tests.support.demo import WANG, outbox_rows


async def _resident(session, rid=WANG) -> Resident:
    return await session.get(Resident, rid)


def _local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL_TZ)


@pytest.mark.parametrize(("kind", "priority", "expected"), [
    (TicketKind.fault, Priority.normal, datetime(2026, 11, 26, 23, 59, 59)),  # R7: 3 working days (Mon -> Thu)
    (TicketKind.fault, Priority.emergency, datetime(2026, 11, 24, 23, 59, 59)),  # R7: emergency, 1 working day
    (TicketKind.complaint, Priority.normal, datetime(2026, 11, 26, 23, 59, 59)),  # R3
    (TicketKind.callback, Priority.normal, datetime(2026, 11, 24, 10, 0)),  # R10: 24 clock hours
])
async def test_deadlines_come_from_the_calendar(ctx, session, demo_town, kind, priority, expected) -> None:
    ticket = await tickets.create_ticket(session, ctx=ctx, kind=kind, resident=await _resident(session),
                                         subject="x", priority=priority)
    assert _local(ticket.deadline_at).replace(tzinfo=None) == expected
    assert ticket.number.startswith(tickets.PREFIXES[kind] + "-20261123-")


async def test_deadline_skips_the_weekend_and_holidays(ctx, session, demo_town, clock) -> None:
    clock.set(datetime(2026, 11, 27, 16, 0))  # a Friday
    ticket = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=await _resident(session),
                                         subject="x")
    assert _local(ticket.deadline_at).date().isoformat() == "2026-12-02"  # Mon, Tue, Wed
    clock.set(datetime(2026, 9, 30, 12, 0))  # before the National Day week
    ticket = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=await _resident(session),
                                         subject="y")
    assert _local(ticket.deadline_at).date() > datetime(2026, 10, 7).date()


async def test_numbers_are_sequential_per_day_and_readable(ctx, session, demo_town) -> None:
    r = await _resident(session)
    a = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="a")
    b = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="b")
    assert a.number == "BX-20261123-0001" and b.number == "BX-20261123-0002"


async def test_idempotency_key_returns_the_same_ticket(ctx, session, demo_town) -> None:
    r = await _resident(session)
    a = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.complaint, resident=r, subject="a",
                                    idempotency_key="k1")
    b = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.complaint, resident=r, subject="a",
                                    idempotency_key="k1")
    assert a.id == b.id
    assert len((await session.execute(select(Ticket))).scalars().all()) == 1


async def test_idempotency_holds_across_two_sessions(ctx, demo_town) -> None:
    """Two devices confirm at once: two sessions, one ticket."""
    async with ctx.sessionmaker() as s1, ctx.sessionmaker() as s2:
        r1, r2 = await _resident(s1), await _resident(s2)
        a = await tickets.create_ticket(s1, ctx=ctx, kind=TicketKind.fault, resident=r1, subject="a",
                                        idempotency_key="same")
        b = await tickets.create_ticket(s2, ctx=ctx, kind=TicketKind.fault, resident=r2, subject="a",
                                        idempotency_key="same")
        assert a.id == b.id


async def test_notice_in_the_residents_language(ctx, session, demo_town) -> None:
    r = await _resident(session)
    r.language = "en"
    await session.commit()
    await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.callback, resident=r, subject="q")
    (row,) = await outbox_rows(ctx, WANG)
    assert "has been registered" in row.payload["text"] and "HD-20261123-0001" in row.payload["text"]
    r.language = "zh_Hans"
    await session.commit()
    await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.callback, resident=r, subject="q2")
    rows = await outbox_rows(ctx, WANG)
    assert "已登记" in rows[-1].payload["text"]


async def test_transitions_events_and_notices(ctx, session, staffers) -> None:
    r = await _resident(session)
    agent = staffers[StaffRole.agent]
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="s",
                                    category="no_gas", utility=Utility.gas, notify=False)
    await tickets.change_status(session, ctx=ctx, ticket=t, to=TicketStatus.accepted, staff=agent)
    assert t.owner_id == agent.id  # R6: the first person who takes it owns it
    await tickets.change_status(session, ctx=ctx, ticket=t, to="in_progress", staff=agent)
    with pytest.raises(tickets.InvalidInput):  # the written reply is required (R3)
        await tickets.change_status(session, ctx=ctx, ticket=t, to=TicketStatus.resolved, staff=agent)
    await tickets.change_status(session, ctx=ctx, ticket=t, to=TicketStatus.resolved, staff=agent,
                                note="Valve <replaced>")
    assert t.resolved_at is not None
    with pytest.raises(tickets.TransitionError):
        await tickets.change_status(session, ctx=ctx, ticket=t, to=TicketStatus.accepted, staff=agent)
    events = (await session.execute(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                    .order_by(TicketEvent.id))).scalars().all()
    assert [e.kind for e in events] == ["created", "status", "status", "status"]
    assert [e.to_status for e in events[1:]] == ["accepted", "in_progress", "resolved"]
    texts = [row.payload["text"] for row in await outbox_rows(ctx, WANG) if row.kind == "ticket.status"]
    assert len(texts) == 3 and "Valve &lt;replaced&gt;" in texts[-1]  # staff text is escaped for HTML
    assert (await session.execute(select(AuditLog).where(AuditLog.action == "ticket.status"))).scalars().all()


async def test_other_agent_cannot_act_on_an_owned_ticket(ctx, session, staffers) -> None:
    from core.staff import create_staff

    r = await _resident(session)
    owner = staffers[StaffRole.agent]
    other = await create_staff(session, username="other", display_name="O", role=StaffRole.agent, password="x",
                               now=ctx.clock.now())
    await session.commit()
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="s")
    await tickets.assign(session, ctx=ctx, ticket=t, staff=owner, assignee=owner)
    assert t.status is TicketStatus.accepted
    with pytest.raises(tickets.NotAllowed):
        await tickets.change_status(session, ctx=ctx, ticket=t, to=TicketStatus.in_progress, staff=other)
    with pytest.raises(tickets.NotAllowed):
        await tickets.assign(session, ctx=ctx, ticket=t, staff=other, assignee=other)
    sup = staffers[StaffRole.supervisor]
    await tickets.assign(session, ctx=ctx, ticket=t, staff=sup, assignee=other)
    assert t.owner_id == other.id


async def test_duplicate_fault_is_linked_not_refiled(ctx, session, demo_town) -> None:
    r = await _resident(session)
    place = tickets.Place(address="城东区人民路 12号 3单元502", district="城东区")
    first = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water", category="water_leak",
                                            place=place, description="leak", idempotency_key="f1")
    assert not first.linked
    again = tickets.Place(address="城东区人民路12号3单元502", district="城东区")  # typed a little differently
    second = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water", category="water_leak",
                                             place=again, description="still leaking", attachments=["photo-1"],
                                             idempotency_key="f2")
    assert second.linked and second.ticket.id == first.ticket.id
    events = (await session.execute(select(TicketEvent).where(TicketEvent.kind == "report"))).scalars().all()
    assert len(events) == 1 and events[0].note == "still leaking"
    # The same retried update adds nothing more.
    await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water", category="water_leak",
                                    place=again, description="still leaking", idempotency_key="f2")
    assert len((await session.execute(select(TicketEvent).where(TicketEvent.kind == "report"))).scalars().all()) == 1
    # Another category at the same place, or the same category elsewhere, is a new ticket.
    other = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water", category="low_pressure",
                                            place=again)
    elsewhere = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="water",
                                                category="water_leak", place=tickets.Place(address="城西区建设路1号"))
    assert not other.linked and not elsewhere.linked
    assert len((await session.execute(select(Ticket))).scalars().all()) == 3


async def test_closed_ticket_does_not_absorb_new_reports(ctx, session, staffers) -> None:
    r = await _resident(session)
    place = tickets.Place(account_id=1, district="城东区")
    first = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="gas", category="no_gas",
                                            place=place)
    await tickets.change_status(session, ctx=ctx, ticket=first.ticket, to="resolved", note="done",
                                staff=staffers[StaffRole.agent])
    second = await tickets.file_fault_report(session, ctx=ctx, resident=r, utility="gas", category="no_gas",
                                             place=place)
    assert not second.linked


async def test_gas_leak_is_always_emergency(ctx, session, demo_town) -> None:
    r = await _resident(session)
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="x",
                                    category="gas_leak", priority=Priority.low)
    assert t.priority is Priority.emergency  # R20


async def test_complaint_classification_escalates_level_two(ctx, session, staffers) -> None:
    r = await _resident(session)
    t = await tickets.file_complaint(session, ctx=ctx, resident=r, text="The fitter was rude and asked for money")
    assert t.kind is TicketKind.complaint and t.number.startswith("TS-")
    with pytest.raises(tickets.InvalidInput):
        await tickets.classify_complaint(session, ctx=ctx, ticket=t, staff=staffers[StaffRole.agent], level=3)
    with pytest.raises(tickets.InvalidInput):
        await tickets.classify_complaint(session, ctx=ctx, ticket=t, staff=staffers[StaffRole.agent], level=1,
                                         klass="D")
    async with ctx.live.subscribe() as queue:
        await tickets.classify_complaint(session, ctx=ctx, ticket=t, staff=staffers[StaffRole.agent], level=2,
                                         klass="a")
        events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert t.complaint_level == 2 and t.complaint_class == "A" and t.escalated_at is not None
    assert t.priority is Priority.high
    assert any(e["topic"] == "supervisor.alert" and e["number"] == t.number for e in events)


async def test_long_complaint_is_refused(ctx, session, demo_town) -> None:
    with pytest.raises(tickets.InvalidInput):
        await tickets.file_complaint(session, ctx=ctx, resident=await _resident(session), text="x" * 20_000)
    assert not (await session.execute(select(Ticket))).scalars().all()


async def test_overdue_tickets_are_escalated_once(ctx, session, demo_town, clock) -> None:
    r = await _resident(session)
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="s")
    assert await tickets.escalate_overdue(session, ctx=ctx, now=clock.now()) == []
    later = clock.now() + timedelta(days=4)
    async with ctx.live.subscribe() as queue:
        assert await tickets.escalate_overdue(session, ctx=ctx, now=later) == [t.number]
        assert await tickets.escalate_overdue(session, ctx=ctx, now=later) == []  # once
        alerts = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [a["number"] for a in alerts if a["topic"] == "supervisor.alert"] == [t.number]
    listed = await tickets.list_tickets(session, tickets.TicketFilters(overdue=True), now=later)
    assert [x.number for x in listed.items] == [t.number]


async def test_extend_deadline_tells_the_resident(ctx, session, staffers) -> None:
    r = await _resident(session)
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=r, subject="s", notify=False)
    new = t.deadline_at + timedelta(days=5)
    with pytest.raises(tickets.InvalidInput):
        await tickets.extend_deadline(session, ctx=ctx, ticket=t, staff=staffers[StaffRole.agent],
                                      new_deadline=t.deadline_at - timedelta(days=1), reason="x")
    await tickets.extend_deadline(session, ctx=ctx, ticket=t, staff=staffers[StaffRole.agent], new_deadline=new,
                                  reason="parts on order")
    (row,) = await outbox_rows(ctx, WANG)
    assert "parts on order" in row.payload["text"]


async def test_list_filters_and_cursor(ctx, session, demo_town, clock) -> None:
    r = await _resident(session)
    for i in range(7):
        clock.advance(minutes=1)
        await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault if i % 2 else TicketKind.complaint,
                                    resident=r, subject=f"s{i}", district="城东区" if i < 3 else "城西区")
    page = await tickets.list_tickets(session, tickets.TicketFilters(), limit=3)
    seen = [t.subject for t in page.items]
    while page.next_cursor:
        page = await tickets.list_tickets(session, tickets.TicketFilters(), limit=3, cursor=page.next_cursor)
        seen += [t.subject for t in page.items]
    assert seen == [f"s{i}" for i in reversed(range(7))]
    faults = await tickets.list_tickets(session, tickets.TicketFilters(kind=[TicketKind.fault], district="城西区"))
    assert {t.subject for t in faults.items} == {"s3", "s5"}
    with pytest.raises(tickets.InvalidInput):
        await tickets.list_tickets(session, cursor="garbage")


@pytest.mark.parametrize(("raw", "expected"), [
    ("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("８６13812345678", "13812345678"),
    ("0512-65231234", "0512-65231234"), ("010 12345678", "01012345678"), ("1381234567a", None),
    ("12345", None), ("23812345678", None), ("abc", None), ("", None),
])
def test_phone_validation(raw, expected) -> None:
    assert tickets.clean_phone(raw) == expected

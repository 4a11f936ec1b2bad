"""R7 repair orders: arrival and outcome recorded, a call-back task within the first working day after every
completed repair, progress of a late order shown to the resident, emergency on-time arrival against 99 %."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import repairs, scheduler, tickets
from core.clock import LOCAL_TZ
from db.enums import Priority, StaffRole, TicketKind, TicketStatus
from db.models import Resident, Ticket
from tests.support.chat import Chat
from tests.support.console import login, token_of
from tests.support.demo import WANG, outbox_rows, set_language


async def _fault(ctx, session, *, emergency: bool = False, minutes_ago: int = 0) -> Ticket:
    wang = await session.get(Resident, WANG)
    t = await tickets.create_ticket(session, ctx=ctx, kind=TicketKind.fault, resident=wang, subject="No gas",
                                    category="gas_leak" if emergency else "no_gas", notify=False,
                                    priority=Priority.emergency if emergency else Priority.normal,
                                    contact_phone="13800000001")
    if minutes_ago:
        t.created_at = ctx.clock.now() - timedelta(minutes=minutes_ago)
        await session.commit()
    return t


async def _callbacks(session) -> list[Ticket]:
    q = select(Ticket).where(Ticket.kind == TicketKind.callback).order_by(Ticket.id)
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def test_r7_completed_repair_records_outcome_and_opens_a_callback_by_the_next_working_day(
        ctx, session, staffers) -> None:
    agent = staffers[StaffRole.agent]
    t = await _fault(ctx, session)
    with pytest.raises(repairs.RepairError, match="arrival"):  # R7: arrival first
        await repairs.complete_repair(session, ctx=ctx, ticket=t, staff=agent, outcome="fixed", first_visit=True,
                                      note="Replaced the regulator")
    with pytest.raises(repairs.RepairError, match="Outcome"):
        await repairs.complete_repair(session, ctx=ctx, ticket=t, staff=agent, outcome="magic", first_visit=True,
                                      note="x")
    await repairs.record_arrival(session, ctx=ctx, ticket=t, staff=agent)
    await repairs.complete_repair(session, ctx=ctx, ticket=t, staff=agent, outcome="fixed", first_visit=True,
                                  note="Replaced the regulator")
    assert t.status is TicketStatus.resolved and t.repair_outcome == "fixed" and t.first_visit_fix is True
    (callback,) = await _callbacks(session)
    assert callback.repair_of_id == t.id and callback.contact_phone == "13800000001"
    # Monday 23 November completion → called back by the end of Tuesday 24 November (R7).
    assert callback.deadline_at == datetime(2026, 11, 24, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert await repairs.ensure_callbacks(ctx) == 0 and len(await _callbacks(session)) == 1  # exactly one


async def test_r7_a_repair_resolved_any_other_way_still_gets_its_callback(ctx, session, staffers) -> None:
    t = await _fault(ctx, session)
    await tickets.change_status(session, ctx=ctx, ticket=t, to="resolved", staff=staffers[StaffRole.agent],
                                note="Fixed")
    assert await _callbacks(session) == []
    assert await repairs.ensure_callbacks(ctx) == 1  # the scheduler's sweep (job "repair-callbacks")
    assert [c.repair_of_id for c in await _callbacks(session)] == [t.id]
    assert any(j.name == "repair-callbacks" for j in scheduler.default_jobs())


async def test_r7_late_order_progress_is_told_and_shown_in_my_requests(ctx, dp, bot, session, staffers) -> None:
    await set_language(ctx, WANG, "en")
    agent = staffers[StaffRole.agent]
    t = await _fault(ctx, session)
    for bad in ({"note": "", "responsible_name": "Li Gong", "responsible_phone": "13912345678"},
                {"note": "Waiting for a part", "responsible_name": "", "responsible_phone": "13912345678"},
                {"note": "Waiting for a part", "responsible_name": "Li Gong", "responsible_phone": "12345"}):
        with pytest.raises(repairs.RepairError):
            await repairs.record_progress(session, ctx=ctx, ticket=t, staff=agent, **bad)
    assert t.progress_note is None
    await repairs.record_progress(session, ctx=ctx, ticket=t, staff=agent, note="Waiting for a valve part",
                                  responsible_name="Li Gong", responsible_phone="139 1234 5678")
    sent = [r.payload["text"] for r in await outbox_rows(ctx, WANG) if r.kind == "ticket.progress"]
    assert len(sent) == 1 and "Waiting for a valve part" in sent[0] and "13912345678" in sent[0]
    chat = Chat(dp, bot, WANG)
    await chat.send("📋 My requests")
    listing = chat.last()
    assert t.number in listing and "Progress: Waiting for a valve part" in listing
    assert "Responsible: Li Gong, phone 13912345678" in listing


async def test_r7_emergency_on_time_arrival_rate_against_99_percent(ctx, session, staffers) -> None:
    agent = staffers[StaffRole.agent]
    on_time = await _fault(ctx, session, emergency=True, minutes_ago=30)
    late = await _fault(ctx, session, emergency=True, minutes_ago=31)
    for t in (on_time, late):
        await repairs.record_arrival(session, ctx=ctx, ticket=t, staff=agent)
        await repairs.complete_repair(session, ctx=ctx, ticket=t, staff=agent, outcome="fixed",
                                      first_visit=t is on_time, note="Made safe and repaired")
    assert repairs.arrived_on_time(on_time) is True and repairs.arrived_on_time(late) is False
    now = ctx.clock.now()
    f = await repairs.figures(session, start=now - timedelta(days=1), end=now + timedelta(seconds=1))
    assert (f.emergencies_arrived, f.emergencies_on_time) == (2, 1)
    assert f.emergency_on_time_rate == 0.5 < repairs.EMERGENCY_ON_TIME_TARGET
    assert f.first_time_fix_rate == 0.5 and f.timeliness_rate == 1.0


async def test_r7_console_forms_record_arrival_outcome_and_progress(ctx, session, staff_client, staffers) -> None:
    t = await _fault(ctx, session)
    assert (await login(staff_client, "t-agent", "pw-agent")).status_code == 303
    page = await staff_client.get(f"/console/tickets/{t.number}")
    assert 'id="repair"' in page.text and "登记到达" in page.text  # "Record arrival" (staff read Chinese by default)
    token = await token_of(staff_client, f"/console/tickets/{t.number}")
    bad = await staff_client.post(f"/console/tickets/{t.number}/arrival", data={"at": "yesterday", "csrf_token": token})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    r = await staff_client.post(f"/console/tickets/{t.number}/progress",
                          data={"note": "Part ordered", "name": "Li Gong", "phone": "nope", "csrf_token": token})
    assert r.status_code == 422 and "phone" in r.text
    r = await staff_client.post(f"/console/tickets/{t.number}/arrival", data={"csrf_token": token})
    assert r.status_code == 303
    r = await staff_client.post(f"/console/tickets/{t.number}/outcome",
                          data={"result": "fixed", "first_visit": "1", "note": "Fixed", "csrf_token": token})
    assert r.status_code == 303
    await session.refresh(t)
    assert t.arrived_at is not None and t.first_visit_fix and t.status is TicketStatus.resolved
    assert len(await _callbacks(session)) == 1

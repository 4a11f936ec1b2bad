"""Ticket desk and appointment board over HTTP (on top of core.tickets / core.appointments)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from core import appointments, tickets
from db.enums import AppointmentStatus, ServiceType, StaffRole, TicketKind, TicketStatus
from db.models import AuditLog, OutboxNotification, Resident, SlotCapacity, Ticket
from tests.support.console import add_resident, token_of


async def _ticket(ctx, *, kind=TicketKind.fault, subject="燃气表漏气", phone="13800000001", district="城东区",
                  resident_id=10001, **kw) -> Ticket:
    async with ctx.sessionmaker() as s:
        resident = await s.get(Resident, resident_id)
        return await tickets.create_ticket(s, ctx=ctx, kind=kind, resident=resident, subject=subject,
                                           contact_phone=phone, district=district, contact_name="王建国", **kw)


async def _audit(ctx, action):
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(AuditLog).where(AuditLog.action == action))).scalars())


async def _status(ctx, number) -> Ticket:
    async with ctx.sessionmaker() as s:
        return (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


async def test_ticket_list_filters_deadlines_and_masked_phones(ctx, clock, make_client, staff_users) -> None:
    await add_resident(ctx)
    old = await _ticket(ctx, subject="old leak")
    clock.advance(days=6)  # the first ticket is now past its R3 deadline
    new = await _ticket(ctx, kind=TicketKind.complaint, subject="rude staff", district="城西区")
    agent = await make_client("agent")
    page = await agent.get("/console/tickets")
    assert page.status_code == 200 and old.number in page.text and new.number in page.text
    assert "138****0001" in page.text and "13800000001" not in page.text, "phones are masked in lists"
    assert "overdue" in page.text
    overdue = await agent.get("/console/tickets", params={"overdue": "1"})
    assert old.number in overdue.text and new.number not in overdue.text
    by_kind = await agent.get("/console/tickets", params={"kind": "complaint"})
    assert new.number in by_kind.text and old.number not in by_kind.text
    by_district = await agent.get("/console/tickets", params={"district": "城西区"})
    assert new.number in by_district.text and old.number not in by_district.text
    by_number = await agent.get("/console/tickets", params={"q": old.number})
    assert old.number in by_number.text and new.number not in by_number.text
    junk = await agent.get("/console/tickets", params={"kind": "nonsense", "cursor": "garbage", "sort": "x"})
    assert junk.status_code == 200


async def test_ticket_pagination(ctx, make_client, staff_users) -> None:
    await add_resident(ctx)
    numbers = [(await _ticket(ctx, subject=f"t{i}")).number for i in range(55)]
    agent = await make_client("agent")
    first = await agent.get("/console/tickets", params={"sort": "newest"})
    assert numbers[-1] in first.text and numbers[0] not in first.text and "Next page" in first.text
    import re

    nxt = re.search(r'href="(/console/tickets\?[^"]*cursor=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = await agent.get(nxt)
    assert numbers[0] in second.text and numbers[-1] not in second.text


async def test_take_change_status_and_history(ctx, make_client, staff_users) -> None:
    await add_resident(ctx)
    t = await _ticket(ctx)
    agent = await make_client("agent")
    token = await token_of(agent)
    url = f"/console/tickets/{t.number}"
    assert (await agent.post(f"{url}/assign", data={"csrf_token": token})).status_code == 303
    saved = await _status(ctx, t.number)
    assert saved.owner_id == staff_users[StaffRole.agent] and saved.status == TicketStatus.accepted
    r = await agent.post(f"{url}/status", data={"csrf_token": token, "to": "resolved"})
    assert r.status_code == 422 and "note is required" in r.text, "R3: resolving needs the written reply"
    r = await agent.post(f"{url}/status", data={"csrf_token": token, "to": "in_progress"})
    assert r.status_code == 303
    r = await agent.post(f"{url}/status", data={"csrf_token": token, "to": "resolved", "note": "已更换阀门"})
    assert r.status_code == 303 and (await _status(ctx, t.number)).status == TicketStatus.resolved
    page = await agent.get(url)
    assert "已更换阀门" in page.text and "in_progress → resolved" in page.text
    assert [a.detail["to"] for a in await _audit(ctx, "ticket.status")] == ["in_progress", "resolved"]
    r = await agent.post(f"{url}/status", data={"csrf_token": token, "to": "bogus"})
    assert r.status_code == 422


async def test_owned_ticket_is_off_limits_to_other_agents(ctx, make_client, staff_users, agent2) -> None:
    await add_resident(ctx)
    t = await _ticket(ctx)
    a1, a2 = await make_client("agent"), await make_client("agent2")
    await a1.post(f"/console/tickets/{t.number}/assign", data={"csrf_token": await token_of(a1)})
    r = await a2.post(f"/console/tickets/{t.number}/status", data={"csrf_token": await token_of(a2),
                                                                   "to": "in_progress"})
    assert r.status_code == 403 and "R6" in r.text
    assert (await _status(ctx, t.number)).status == TicketStatus.accepted
    sup = await make_client("supervisor")
    r = await sup.post(f"/console/tickets/{t.number}/assign", data={"csrf_token": await token_of(sup),
                                                                    "assignee_id": agent2})
    assert r.status_code == 303 and (await _status(ctx, t.number)).owner_id == agent2


async def test_duplicate_and_reply_with_language_guard(ctx, make_client, staff_users) -> None:
    await add_resident(ctx)
    first, second = await _ticket(ctx), await _ticket(ctx, subject="same leak again")
    agent = await make_client("agent")
    token = await token_of(agent)
    r = await agent.post(f"/console/tickets/{second.number}/duplicate",
                         data={"csrf_token": token, "original": first.number})
    assert r.status_code == 303
    saved = await _status(ctx, second.number)
    assert saved.status == TicketStatus.duplicate and saved.duplicate_of_id == first.id
    r = await agent.post(f"/console/tickets/{second.number}/duplicate", data={"csrf_token": token, "original": "X-1"})
    assert r.status_code in (404, 409, 422)

    url = f"/console/tickets/{first.number}/reply"
    r = await agent.post(url, data={"csrf_token": token, "text": "这事解决不了"})
    assert r.status_code == 422 and "R14" in r.text
    async with ctx.sessionmaker() as s:
        replies = (await s.execute(select(OutboxNotification).where(OutboxNotification.kind == "ticket.reply"))).all()
    assert replies == []
    r = await agent.post(url, data={"csrf_token": token, "text": "这事解决不了", "action": "override"})
    assert r.status_code == 303
    assert len(await _audit(ctx, "ticket.guard_override")) == 1 and len(await _audit(ctx, "ticket.reply")) == 1


async def _appointment(ctx, day: date, window="09-12"):
    async with ctx.sessionmaker() as s:
        if not (await s.execute(select(SlotCapacity))).first():
            for d in ("城东区", "城西区"):
                for w in ("09-12", "14-17"):
                    s.add(SlotCapacity(district=d, window=w, day=None, capacity=4))
            await s.commit()
        resident = await s.get(Resident, 10001)
        return await appointments.request_appointment(
            s, ctx=ctx, resident=resident, service=ServiceType.safety_inspection, district="城东区",
            address="人民路1号", day=day, window=window, contact_phone="13800000001")


async def test_appointment_board_confirm_and_refusal_needs_supervisor(ctx, make_client, staff_users) -> None:
    await add_resident(ctx)
    day = ctx.calendar.add_working_days(ctx.clock.now().date(), 2)
    a1 = await _appointment(ctx, day)
    a2 = await _appointment(ctx, day, "14-17")
    agent = await make_client("agent")
    board = await agent.get("/console/appointments", params={"day": day.isoformat()})
    assert board.status_code == 200 and a1.number in board.text and "1/4" in board.text
    assert "138****0001" in board.text and "13800000001" not in board.text
    token = await token_of(agent)
    r = await agent.post(f"/console/appointments/{a1.number}/confirm", data={"csrf_token": token})
    assert r.status_code == 303
    r = await agent.post(f"/console/appointments/{a2.number}/refuse", data={"csrf_token": token, "note": "no staff"})
    assert r.status_code == 303 and "supervisor" in r.headers["location"].replace("%20", " ")
    sup = await make_client("supervisor")
    r = await sup.post(f"/console/appointments/{a2.number}/refuse",
                       data={"csrf_token": await token_of(sup), "note": "该地址不在服务范围"})
    assert r.status_code == 303
    async with ctx.sessionmaker() as s:
        got = {a.number: a.status for a in await appointments.list_appointments(s)}
    assert got == {a1.number: AppointmentStatus.confirmed, a2.number: AppointmentStatus.refused}
    propose_day = (day + timedelta(days=7)).isoformat()
    r = await agent.post(f"/console/appointments/{a1.number}/propose",
                         data={"csrf_token": token, "day": propose_day, "window": "09-12"})
    assert r.status_code == 303 and "error=" in r.headers["location"], "a confirmed visit cannot be re-proposed"
    assert (await agent.post("/console/appointments/X/nope", data={"csrf_token": token})).status_code == 404


async def test_appointment_board_propose_another_slot_and_no_show(ctx, clock, make_client, staff_users) -> None:
    from datetime import datetime

    from core.clock import LOCAL_TZ

    await add_resident(ctx)
    day = ctx.calendar.add_working_days(ctx.clock.now().date(), 2)
    asked = await _appointment(ctx, day)
    kept = await _appointment(ctx, day, "14-17")
    agent = await make_client("agent")
    token = await token_of(agent)
    later = ctx.calendar.add_working_days(day, 1)
    r = await agent.post(f"/console/appointments/{asked.number}/propose",
                         data={"csrf_token": token, "day": later.isoformat(), "window": "14-17",
                               "note": "上午已约满"})
    assert r.status_code == 303 and "error=" not in r.headers["location"]
    r = await agent.post(f"/console/appointments/{kept.number}/confirm", data={"csrf_token": token})
    assert r.status_code == 303
    # Too early: a no-show needs the resident to be 30 minutes late (R2); the visit stays confirmed.
    r = await agent.post(f"/console/appointments/{kept.number}/no-show", data={"csrf_token": token})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    clock.set(datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ).replace(hour=14, minute=31))
    r = await agent.post(f"/console/appointments/{kept.number}/no-show", data={"csrf_token": token})
    assert r.status_code == 303 and "error=" not in r.headers["location"]
    async with ctx.sessionmaker() as s:
        got = {a.number: a for a in await appointments.list_appointments(s)}
        told = (await s.execute(select(OutboxNotification.kind).where(OutboxNotification.resident_id == 10001)))
        kinds = [k for (k,) in told]
    assert got[asked.number].status is AppointmentStatus.proposed
    assert (got[asked.number].proposed_day, got[asked.number].proposed_window) == (later, "14-17")
    assert got[kept.number].status is AppointmentStatus.no_show
    assert len(kinds) >= 3, kinds  # proposal, confirmation and no-show all reach the resident
    assert len(await _audit(ctx, "appointment.no_show")) == 1

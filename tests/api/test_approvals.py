"""R2: staff cannot refuse or cancel a resident's request on their own — a supervisor approves, with the reason
sent to the resident; and a resident is a no-show only when MORE than 30 minutes late."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
from sqlalchemy import select

from core import appointments, approvals, tickets
from db.enums import AppointmentStatus, ServiceType, StaffRole, TicketKind, TicketStatus
from db.models import Appointment, ApprovalRequest, Resident, Ticket
from tests.support.console import as_role as _as
from tests.support.demo import WANG, outbox_rows

TUE = date(2026, 11, 24)




async def _book(ctx, window: str = "09-12") -> Appointment:
    async with ctx.sessionmaker() as session:
        return await appointments.request_appointment(
            session, ctx=ctx, resident=await session.get(Resident, WANG), service=ServiceType.safety_inspection,
            district="城东区", address="城东区人民路1号", day=TUE, window=window, contact_phone="13800000001")


async def _ticket(ctx) -> Ticket:
    async with ctx.sessionmaker() as session:
        return await tickets.create_ticket(session, ctx=ctx, resident=await session.get(Resident, WANG),
                                           kind=TicketKind.fault, subject="no gas", notify=False)


@pytest.mark.parametrize(("late", "no_show"), [((30, 0), False), ((30, 1), True)])
async def test_r2_no_show_only_when_more_than_30_minutes_late(ctx, session, staffers, clock, late, no_show) -> None:
    agent = staffers[StaffRole.agent]
    a = await _book(ctx)
    a = await session.get(Appointment, a.id)
    await appointments.confirm(session, ctx=ctx, appt=a, staff=agent)
    minutes, seconds = late
    clock.set(datetime(2026, 11, 24, 9, minutes, seconds))  # the 09-12 window starts at 09:00
    if no_show:
        await appointments.record_no_show(session, ctx=ctx, appt=a, staff=agent)
        assert a.status is AppointmentStatus.no_show
    else:
        with pytest.raises(appointments.TooLate):
            await appointments.record_no_show(session, ctx=ctx, appt=a, staff=agent)
        assert a.status is AppointmentStatus.confirmed


async def test_r2_staff_cannot_cancel_on_their_own(ctx, session, staffers, staffer_client) -> None:
    agent = staffers[StaffRole.agent]
    t = await _ticket(ctx)
    a = await _book(ctx)
    with pytest.raises(tickets.NotAllowed, match="R2"):
        await tickets.change_status(session, ctx=ctx, ticket=await session.get(Ticket, t.id),
                                    to=TicketStatus.cancelled, staff=agent, note="duplicate call")
    await session.rollback()
    with pytest.raises(tickets.NotAllowed, match="R2"):
        await appointments.cancel_by_staff(session, ctx=ctx, appt=await session.get(Appointment, a.id), staff=agent,
                                           reason="no technician")
    await session.rollback()
    h = await _as(staffer_client, StaffRole.operator)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/transitions", json={"to": "cancelled", "note": "x"},
                          headers=h)
    assert r.status_code == 403 and "R2" in r.json()["detail"]
    r = await staffer_client.post(f"/api/v1/appointments/{a.number}/cancel", json={"reason": "x"}, headers=h)
    assert r.status_code == 403
    page = await staffer_client.get(f"/console/tickets/{t.number}")
    assert 'value="cancelled"' not in page.text and "cancel-request" in page.text
    async with ctx.sessionmaker() as s:
        assert (await s.get(Ticket, t.id)).status is TicketStatus.new
        assert (await s.get(Appointment, a.id)).status is AppointmentStatus.requested
    assert [r.kind for r in await outbox_rows(ctx, WANG)] == []


async def test_r2_ticket_cancellation_asked_then_approved_tells_the_resident(ctx, staffer_client) -> None:
    t = await _ticket(ctx)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/console/tickets/{t.number}/cancel-request",
                                  data={"reason": "您已通过电话撤回报修"},
                          headers=h)
    assert r.status_code == 303
    r = await staffer_client.post(f"/console/tickets/{t.number}/cancel-request", data={"reason": "again"}, headers=h)
    assert "already" in httpx.URL(r.headers["location"]).params["error"]  # one pending request per target
    assert (await staffer_client.get("/console/approvals")).status_code == 403
    async with ctx.sessionmaker() as s:
        assert (await s.get(Ticket, t.id)).status is TicketStatus.new  # nothing happens before approval
    assert await outbox_rows(ctx, WANG) == []
    h = await _as(staffer_client, StaffRole.supervisor)
    page = await staffer_client.get("/console/approvals")
    assert page.status_code == 200 and t.number in page.text and "您已通过电话撤回报修" in page.text
    async with ctx.sessionmaker() as s:
        req = (await s.execute(select(ApprovalRequest))).scalar_one()
    r = await staffer_client.post(f"/console/approvals/{req.id}/approve", data={}, headers=h)
    assert r.status_code == 303
    async with ctx.sessionmaker() as s:
        assert (await s.get(Ticket, t.id)).status is TicketStatus.cancelled
        decided = await s.get(ApprovalRequest, req.id)
        assert decided.status == "approved" and decided.decided_by_id is not None
    rows = await outbox_rows(ctx, WANG)
    assert len(rows) == 1 and "您已通过电话撤回报修" in rows[0].payload["text"]  # the reason reaches the resident
    r = await staffer_client.post(f"/console/approvals/{req.id}/approve", data={}, headers=h)
    assert "already" in httpx.URL(r.headers["location"]).params["error"]


async def test_r2_visit_refusal_asked_then_rejected_or_approved(ctx, staffer_client) -> None:
    a = await _book(ctx)
    b = await _book(ctx, window="14-17")
    h = await _as(staffer_client, StaffRole.agent)
    for appt in (a, b):
        r = await staffer_client.post(f"/console/appointments/{appt.number}/ask-refuse",
                              data={"note": "该地址不在我们的服务范围内，请联系物业燃气站"}, headers=h)
        assert r.status_code == 303 and "error" not in r.headers["location"]
    r = await staffer_client.post(f"/console/appointments/{a.number}/ask-cancel", data={"note": "你去找领导吧"},
                                  headers=h)
    assert "R14" in httpx.URL(r.headers["location"]).params["error"]
    h = await _as(staffer_client, StaffRole.supervisor)
    async with ctx.sessionmaker() as s:
        reqs = {r.appointment_id: r.id for r in (await s.execute(select(ApprovalRequest))).scalars()}
    assert (await staffer_client.post(f"/console/approvals/{reqs[a.id]}/reject", data={"note": "we can go"},
                              headers=h)).status_code == 303
    assert (await staffer_client.post(f"/console/approvals/{reqs[b.id]}/approve", data={},
                                      headers=h)).status_code == 303
    async with ctx.sessionmaker() as s:
        assert (await s.get(Appointment, a.id)).status is AppointmentStatus.requested
        refused = await s.get(Appointment, b.id)
        assert refused.status is AppointmentStatus.refused and refused.refused_by_id is not None
    kinds = [(r.kind, r.payload["text"]) for r in await outbox_rows(ctx, WANG)]
    assert [k for k, _ in kinds] == ["appointment.refused"]  # the rejected one told the resident nothing
    assert "服务范围" in kinds[-1][1]
    assert (await staffer_client.post("/console/approvals/999999/approve", data={}, headers=h)).status_code == 404


async def test_r2_only_supervisors_decide(ctx, session, staffers) -> None:
    t = await _ticket(ctx)
    req = await approvals.request(session, ctx=ctx, staff=staffers[StaffRole.agent],
                                  action=approvals.Action.cancel_ticket, target=await session.get(Ticket, t.id),
                                  reason="重复报修")
    with pytest.raises(tickets.NotAllowed):
        await approvals.decide(session, ctx=ctx, request_id=req.id, supervisor=staffers[StaffRole.operator],
                               approve=True)

"""R5: a complaint is not closed without its impact level (1/2) and, where staff are at fault, its class
(A/B/C); level 2 and class A go straight to supervisors (their queue, a live alert) and only a supervisor
closes them."""

from __future__ import annotations

import pytest

from core import tickets
from db.enums import StaffRole, TicketStatus
from db.models import Resident, Ticket
from tests.support.console import as_role as _as
from tests.support.demo import WANG, outbox_rows


async def _complaint(ctx, text: str = "抄表员态度很差") -> Ticket:
    async with ctx.sessionmaker() as session:
        return await tickets.file_complaint(session, ctx=ctx, resident=await session.get(Resident, WANG), text=text)


async def _status(ctx, t: Ticket) -> TicketStatus:
    async with ctx.sessionmaker() as s:
        return (await s.get(Ticket, t.id)).status


async def test_r5_unclassified_complaint_cannot_be_closed(ctx, staffer_client) -> None:
    t = await _complaint(ctx)
    told = len(await outbox_rows(ctx, WANG))
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/console/tickets/{t.number}/status", data={"to": "resolved",
                                                                               "note": "已向您道歉并整改"},
                          headers=h)
    assert r.status_code == 422 and "R5" in r.text
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/transitions", json={"to": "resolved", "note": "已处理"},
                          headers=h)
    assert r.status_code == 422 and "R5" in r.json()["detail"]
    assert await _status(ctx, t) is TicketStatus.new and len(await outbox_rows(ctx, WANG)) == told
    # Level 1, class C (rudeness): the agent who owns it may now close it.
    r = await staffer_client.post(f"/console/tickets/{t.number}/classify", data={"level": "1", "klass": "C"}, headers=h)
    assert r.status_code == 303
    r = await staffer_client.post(f"/console/tickets/{t.number}/status", data={"to": "resolved",
                                                                               "note": "已向您道歉并整改"},
                          headers=h)
    assert r.status_code == 303 and await _status(ctx, t) is TicketStatus.resolved


@pytest.mark.parametrize(("level", "klass"), [("2", ""), ("1", "A")])
async def test_r5_major_complaint_goes_to_supervisors_who_close_it(ctx, staffer_client, level, klass) -> None:
    t = await _complaint(ctx, "师傅收了红包才给修")
    h = await _as(staffer_client, StaffRole.agent)
    async with ctx.live.subscribe() as queue:
        r = await staffer_client.post(f"/console/tickets/{t.number}/classify", data={"level": level, "klass": klass},
                              headers=h)
        events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert r.status_code == 303
    assert any(e["topic"] == "supervisor.alert" and e["number"] == t.number for e in events)  # notified at once
    async with ctx.sessionmaker() as s:
        q = await tickets.supervisor_queue(s, now=ctx.clock.now())
        assert [x.number for x in q.tickets] == [t.number]
        assert tickets.supervisor_reason(q.tickets[0], ctx.clock.now()) == "major_complaint"
    r = await staffer_client.post(f"/console/tickets/{t.number}/status", data={"to": "resolved", "note": "已调查处理"},
                          headers=h)
    assert r.status_code == 403 and "R5" in r.text and await _status(ctx, t) is TicketStatus.new
    h = await _as(staffer_client, StaffRole.supervisor)
    r = await staffer_client.post(f"/console/tickets/{t.number}/status", data={"to": "resolved", "note": "已调查处理"},
                          headers=h)
    assert r.status_code == 303 and await _status(ctx, t) is TicketStatus.resolved

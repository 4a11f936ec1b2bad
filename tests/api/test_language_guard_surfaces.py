"""R14: the language guard holds on every surface where staff text reaches a resident — console and API
ticket replies, resolution/cancellation notes, deadline-extension reasons, appointment refusal, cancellation
and proposal notes, outage notices and their updates, chat replies. A refused text changes nothing and is
answered with a clear message naming the phrase, never a 500."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from core import appointments, handoff, outages, tickets
from db.enums import AppointmentStatus, OutageKind, ServiceType, StaffRole, TicketKind, TicketStatus, Utility
from db.models import Appointment, OutageNotice, OutboxNotification, Resident, Ticket, TicketEvent
from tests.support.console import csrf, login
from tests.support.demo import WANG, outbox_rows

RUDE = "这事我解决不了，你去找领导吧"  # two R14 phrases in their spoken variants



async def _as(staffer_client: httpx.AsyncClient, role: StaffRole) -> dict[str, str]:
    r = await login(staffer_client, f"t-{role.value}", "pw-" + role.value)
    assert r.status_code == 303, r.text
    return {"X-CSRF-Token": await csrf(staffer_client)}


async def _ticket(ctx, **kw) -> Ticket:
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        return await tickets.create_ticket(session, ctx=ctx, resident=wang, notify=False,
                                           **{"kind": TicketKind.fault, "subject": "s", **kw})


async def _events(ctx, ticket: Ticket) -> list[str]:
    async with ctx.sessionmaker() as session:
        rows = await session.execute(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
        return [k for (k,) in rows]


async def _book(ctx, *, window: str = "09-12") -> Appointment:
    async with ctx.sessionmaker() as session:
        return await appointments.request_appointment(
            session, ctx=ctx, resident=await session.get(Resident, WANG), service=ServiceType.safety_inspection,
            district="城东区", address="城东区人民路1号", day=date(2026, 11, 24), window=window,
            contact_phone="13800000001")


async def test_r14_api_ticket_reply_is_refused(ctx, staffer_client) -> None:
    t = await _ticket(ctx)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/reply", json={"text": RUDE}, headers=h)
    assert r.status_code == 422 and "R14" in r.json()["detail"] and "这事我解决不了" in r.json()["detail"]
    assert await outbox_rows(ctx, WANG) == [] and "reply" not in await _events(ctx, t)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/reply", json={"text": "您好，我们今天下午上门处理。"},
                                  headers=h)
    assert r.status_code == 201 and len(await outbox_rows(ctx, WANG)) == 1


async def test_r14_console_ticket_reply_warns_and_override_is_explicit(ctx, staffer_client, staffers) -> None:
    t = await _ticket(ctx)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/console/tickets/{t.number}/reply", data={"text": RUDE}, headers=h)
    assert r.status_code == 422 and await outbox_rows(ctx, WANG) == []
    # The service itself refuses too, so no other caller can skip the guard.
    async with ctx.sessionmaker() as session:
        ticket = await session.get(Ticket, t.id)
        with pytest.raises(tickets.ImpoliteText):
            await tickets.reply_to_resident(session, ctx=ctx, ticket=ticket, staff=staffers[StaffRole.agent],
                                            text=RUDE)
    r = await staffer_client.post(f"/console/tickets/{t.number}/reply", data={"text": RUDE, "action": "override"},
                          headers=h)
    assert r.status_code == 303 and len(await outbox_rows(ctx, WANG)) == 1  # audited "send anyway"


async def test_r14_resolution_note_via_api_and_console(ctx, staffer_client) -> None:
    t = await _ticket(ctx)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/transitions",
                          json={"to": "resolved", "note": "我们也没办法，就这样吧"}, headers=h)
    assert r.status_code == 422 and "R14" in r.json()["detail"]
    r = await staffer_client.post(f"/console/tickets/{t.number}/status",
                          data={"to": "resolved", "note": "我不知道您说的是什么"}, headers=h)
    assert r.status_code == 422 and "R14" in r.text
    async with ctx.sessionmaker() as session:
        assert (await session.get(Ticket, t.id)).status is TicketStatus.new
    assert await outbox_rows(ctx, WANG) == []


async def test_r14_deadline_extension_reason(ctx, staffer_client) -> None:
    t = await _ticket(ctx)
    h = await _as(staffer_client, StaffRole.agent)
    new = (t.deadline_at + timedelta(days=3)).isoformat()
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/deadline", json={"deadline": new,
                                                                                "reason": "这是领导定的"},
                          headers=h)
    assert r.status_code == 422
    r = await staffer_client.post(f"/console/tickets/{t.number}/deadline",
                          data={"day": "2026-12-10", "reason": "這事我解決不了"}, headers=h)
    assert r.status_code == 422 and "R14" in r.text
    async with ctx.sessionmaker() as session:
        assert (await session.get(Ticket, t.id)).deadline_at == t.deadline_at
    assert await outbox_rows(ctx, WANG) == []


async def test_r14_appointment_refusal_cancellation_and_proposal_notes(ctx, staffer_client) -> None:
    a = await _book(ctx)
    before = len(await outbox_rows(ctx, WANG))
    h = await _as(staffer_client, StaffRole.supervisor)
    r = await staffer_client.post(f"/api/v1/appointments/{a.number}/refuse", json={"reason": "随便你吧"}, headers=h)
    assert r.status_code == 422
    r = await staffer_client.post(f"/api/v1/appointments/{a.number}/propose",
                          json={"day": "2026-11-25", "window": "14-17", "note": "你懂不懂，只有这个时间"}, headers=h)
    assert r.status_code == 422
    r = await staffer_client.post(f"/console/appointments/{a.number}/cancel", data={"note": "没上班，等会儿再说"},
                                  headers=h)
    assert r.status_code == 303 and "R14" in httpx.URL(r.headers["location"]).params["error"]
    async with ctx.sessionmaker() as session:
        assert (await session.get(Appointment, a.id)).status is AppointmentStatus.requested
    assert len(await outbox_rows(ctx, WANG)) == before


async def test_r14_outage_notice_reason_and_update_note(ctx, session, staffers, clock) -> None:
    op = staffers[StaffRole.operator]
    start = clock.now() + timedelta(minutes=10)
    with pytest.raises(outages.ImpoliteNotice, match="R14"):
        await outages.create_notice(session, ctx=ctx, staff=op, utility=Utility.water, kind=OutageKind.emergency,
                                    reason_zh="爆管了，我们也没有办法", reason_en="Burst main",
                                    area={"districts": ["城东区"]}, starts_at=start,
                                    restore_at=start + timedelta(hours=3))
    with pytest.raises(outages.ImpoliteNotice):
        await outages.create_notice(session, ctx=ctx, staff=op, utility=Utility.water, kind=OutageKind.emergency,
                                    reason_zh="爆管抢修", reason_en="Burst main, nothing we can do",
                                    area={"districts": ["城东区"]}, starts_at=start,
                                    restore_at=start + timedelta(hours=3))
    assert (await session.execute(select(func.count()).select_from(OutageNotice))).scalar_one() == 0
    outage = await outages.create_notice(session, ctx=ctx, staff=op, utility=Utility.water,
                                         kind=OutageKind.emergency, reason_zh="爆管抢修", reason_en="Burst main",
                                         area={"districts": ["城东区"]}, starts_at=start,
                                         restore_at=start + timedelta(hours=3))
    await outages.announce(session, ctx=ctx, outage=outage, staff=op)
    sent = (await session.execute(select(func.count()).select_from(OutboxNotification))).scalar_one()
    with pytest.raises(outages.ImpoliteNotice):
        await outages.follow_up(session, ctx=ctx, outage=outage, staff=op, kind="progress",
                                note_zh="还在修，你问我我问谁")
    await session.rollback()
    assert (await session.execute(select(func.count()).select_from(OutboxNotification))).scalar_one() == sent


async def test_r14_chat_reply_in_the_console(ctx, session, staffers) -> None:
    resident = await session.get(Resident, WANG)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason="button")
    agent = staffers[StaffRole.agent]
    await handoff.claim(session, ctx=ctx, conversation_id=conv.id, staff=agent)
    with pytest.raises(handoff.GuardWarning):
        await handoff.reply(session, ctx=ctx, conversation=conv, staff=agent, text="我們也沒辦法")


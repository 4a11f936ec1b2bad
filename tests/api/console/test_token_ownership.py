"""Issue 12 F2/F10: an API token acts as its own service identity, and ownership (R6) applies to tokens exactly
as to people. On the old code a token was ``StaffUser(id=None)``: ticket checks waved it through and the
unchecked note/classification/appointment calls let it act on anything another agent owned."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core import appointments, handoff, staff, tickets
from db.enums import StaffRole, TicketKind
from db.models import Appointment, AuditLog, Conversation, Resident, StaffUser, Ticket, TicketEvent
from tests.support.console import queue_resident
from tests.support.demo import WANG


async def _bearer(ctx, name: str, role: StaffRole) -> dict[str, str]:
    async with ctx.sessionmaker() as s:
        token = await staff.create_api_token(s, name=name, role=role, now=ctx.clock.now())
        await s.commit()
    return {"Authorization": f"Bearer {token}"}


async def _owned_ticket(ctx, owner_id: int, kind: TicketKind = TicketKind.fault) -> Ticket:
    async with ctx.sessionmaker() as s:
        wang = await s.get(Resident, WANG)
        t = await tickets.create_ticket(s, ctx=ctx, resident=wang, kind=kind, subject="s", notify=False)
    async with ctx.sessionmaker() as s:
        row = await s.get(Ticket, t.id)
        row.owner_id = owner_id
        await s.commit()
        return row


async def _owned_appointment(ctx, owner_id: int) -> Appointment:
    async with ctx.sessionmaker() as s:
        wang = await s.get(Resident, WANG)
        appt = await appointments.request_appointment(
            s, ctx=ctx, resident=wang, service="safety_inspection", district="城东区", address="城东区人民路1号",
            day=date(2026, 11, 24), window="09-12", contact_phone="13800000001")
    async with ctx.sessionmaker() as s:
        row = await s.get(Appointment, appt.id)
        row.owner_id = owner_id
        await s.commit()
        return row


async def test_a_token_is_a_real_identity_in_the_audit_log(ctx, staffer_client, staffers) -> None:
    auth = await _bearer(ctx, "crm", StaffRole.agent)
    t = await _owned_ticket(ctx, staffers[StaffRole.agent].id)
    async with ctx.sessionmaker() as s:  # free the ticket: the first to act on it becomes its owner (R6)
        (await s.get(Ticket, t.id)).owner_id = None
        await s.commit()
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/transitions", json={"to": "accepted"}, headers=auth)
    assert r.status_code == 200, r.text
    async with ctx.sessionmaker() as s:
        service = (await s.execute(select(StaffUser).where(StaffUser.username == "token:crm"))).scalar_one()
        assert service.kind == "service" and service.role is StaffRole.agent and service.id is not None
        assert (await s.get(Ticket, t.id)).owner_id == service.id
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "ticket.status"))).scalars().all()
        assert [a.staff_id for a in audit] == [service.id]
    # It cannot log in with a password, whatever is typed.
    async with ctx.sessionmaker() as s:
        result = await staff.authenticate(s, username="token:crm", password="!service", now=ctx.clock.now())
        assert result.user is None


async def test_agent_token_cannot_touch_a_ticket_another_agent_owns(ctx, staffer_client, staffers) -> None:
    auth = await _bearer(ctx, "crm", StaffRole.agent)
    owner = staffers[StaffRole.agent].id
    fault = await _owned_ticket(ctx, owner)
    complaint = await _owned_ticket(ctx, owner, TicketKind.complaint)
    attempts = [
        (fault.number, "transitions", {"to": "in_progress"}),
        (fault.number, "notes", {"text": "taking this over"}),
        (fault.number, "reply", {"text": "hello from someone else"}),
        (complaint.number, "classification", {"level": 2}),
        (fault.number, "deadline", {"deadline": "2026-12-04T18:00:00+08:00", "reason": "later"}),
    ]
    for number, action, body in attempts:
        r = await staffer_client.post(f"/api/v1/tickets/{number}/{action}", json=body, headers=auth)
        assert r.status_code == 403, (action, r.status_code, r.text)
        assert "owned by another" in r.text
    async with ctx.sessionmaker() as s:
        events = (await s.execute(select(TicketEvent.kind).where(
            TicketEvent.ticket_id.in_([fault.id, complaint.id])))).scalars().all()
        assert set(events) <= {"created"}, events  # nothing was written
        c = await s.get(Ticket, complaint.id)
        assert c.complaint_level is None and c.escalated_at is None
    # A supervisor's token may (R6), as a supervisor in person may.
    boss = await _bearer(ctx, "crm-supervisor", StaffRole.supervisor)
    r = await staffer_client.post(f"/api/v1/tickets/{fault.number}/notes", json={"text": "checked"}, headers=boss)
    assert r.status_code == 201, r.text


async def test_agent_token_cannot_confirm_or_cancel_another_agents_appointment(ctx, staffer_client, staffers) -> None:
    auth = await _bearer(ctx, "crm", StaffRole.agent)
    appt = await _owned_appointment(ctx, staffers[StaffRole.agent].id)
    for action, body in (("confirm", {}), ("cancel", {"reason": "not needed"})):
        r = await staffer_client.post(f"/api/v1/appointments/{appt.number}/{action}", json=body, headers=auth)
        assert r.status_code == 403, (action, r.status_code, r.text)
    async with ctx.sessionmaker() as s:
        assert (await s.get(Appointment, appt.id)).status.value == "requested"
    # ... and neither can another agent in person (the same rule for people and tokens).
    async with ctx.sessionmaker() as s:
        colleague = await staff.create_staff(s, username="agent-b", display_name="B", role=StaffRole.agent,
                                             password="pw-agent-b-long", now=ctx.clock.now())
        await s.commit()
        fresh = await s.get(Appointment, appt.id)
        with pytest.raises(tickets.NotAllowed):
            await appointments.confirm(s, ctx=ctx, appt=fresh, staff=colleague)


def test_ownership_never_matches_none() -> None:
    ghost = StaffUser(id=None, username="token:x", display_name="x", role=StaffRole.agent, password_hash="")
    assert not staff.owns(None, ghost)
    assert not staff.owns(None, None)
    assert not staff.may_act_on(None, ghost)  # even an unowned case needs a real identity
    assert not staff.may_act_on(5, ghost)


async def test_an_identity_without_id_cannot_note_or_take_a_chat(ctx, staffers) -> None:
    """The old synthetic token identity (id None) passed `transfer_to_id == staff.id` as None == None."""
    conv = await queue_resident(ctx, user_id=20001)
    ghost = StaffUser(id=None, username="token:x", display_name="x", role=StaffRole.agent, password_hash="")
    async with ctx.sessionmaker() as s:
        agent = await s.get(StaffUser, staffers[StaffRole.agent].id)
        await handoff.claim(s, ctx=ctx, conversation_id=conv.id, staff=agent)
        conv = await s.get(Conversation, conv.id)
        assert not handoff.can_view(ghost, conv)
        with pytest.raises(handoff.HandoffError):
            await handoff.add_note(s, ctx=ctx, conversation=conv, staff=ghost, text="hijack")
        with pytest.raises(handoff.HandoffError):
            await handoff.answer_transfer(s, ctx=ctx, conversation=conv, staff=ghost, accept=True)
        assert (await s.get(Conversation, conv.id)).owner_id == agent.id

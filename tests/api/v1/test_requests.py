"""/api/v1/tickets and /api/v1/appointments: filters, history, create, transitions with their required fields,
assignment (R6), refusals by supervisors only (R2), role checks, CSRF and bearer tokens."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core import staff, tickets
from db.enums import StaffRole, TicketKind
from db.models import OutboxNotification, Resident
from tests.support.console import as_role as _as
from tests.support.console import csrf, login
from tests.support.demo import WANG, outbox_rows


async def _ticket(ctx, **kw):
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        return await tickets.create_ticket(session, ctx=ctx, resident=wang, **{"kind": TicketKind.fault,
                                                                               "subject": "s", **kw})


async def test_login_and_role_required(staffer_client) -> None:
    assert (await staffer_client.get("/api/v1/tickets")).status_code == 401
    assert (await staffer_client.get("/api/v1/appointments")).status_code == 401


async def test_list_detail_and_filters(ctx, staffer_client) -> None:
    a = await _ticket(ctx, category="no_gas", district="城东区", notify=False)
    b = await _ticket(ctx, kind=TicketKind.complaint, notify=False)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.get("/api/v1/tickets")
    assert r.status_code == 200 and [t["number"] for t in r.json()["items"]] == [b.number, a.number]
    r = await staffer_client.get("/api/v1/tickets", params={"kind": "complaint"})
    assert [t["number"] for t in r.json()["items"]] == [b.number]
    r = await staffer_client.get("/api/v1/tickets", params={"district": "城东区", "status": ["new", "accepted"]})
    assert [t["number"] for t in r.json()["items"]] == [a.number]
    r = await staffer_client.get("/api/v1/tickets", params={"limit": 1})
    assert r.json()["next_cursor"]
    r2 = await staffer_client.get("/api/v1/tickets", params={"limit": 1, "cursor": r.json()["next_cursor"]})
    assert [t["number"] for t in r2.json()["items"]] == [a.number]
    assert (await staffer_client.get("/api/v1/tickets", params={"status": "bogus"})).status_code == 422
    d = await staffer_client.get(f"/api/v1/tickets/{a.number}")
    assert d.status_code == 200 and d.json()["events"][0]["kind"] == "created"
    assert (await staffer_client.get("/api/v1/tickets/BX-20000101-0001")).status_code == 404
    assert h


async def test_create_is_idempotent_and_validated(ctx, staffer_client) -> None:
    h = await _as(staffer_client, StaffRole.agent)
    body = {"kind": "fault", "subject": "Phone report: no gas", "category": "no_gas", "utility": "gas",
            "resident_id": WANG, "contact_phone": "138 0000 0001", "district": "城东区"}
    r1 = await staffer_client.post("/api/v1/tickets", json=body, headers={**h, "Idempotency-Key": "call-77"})
    r2 = await staffer_client.post("/api/v1/tickets", json=body, headers={**h, "Idempotency-Key": "call-77"})
    assert r1.status_code == r2.status_code == 201 and r1.json()["number"] == r2.json()["number"]
    assert r1.json()["contact_phone"] == "13800000001"
    rows = await outbox_rows(ctx, WANG)
    assert len(rows) == 1 and r1.json()["number"] in rows[0].payload["text"]  # told in their language
    bad = await staffer_client.post("/api/v1/tickets", json={**body, "contact_phone": "13800abc001"}, headers=h)
    assert bad.status_code == 422
    bad = await staffer_client.post("/api/v1/tickets", json={**body, "category": "dragons"}, headers=h)
    assert bad.status_code == 422
    bad = await staffer_client.post("/api/v1/tickets", json={**body, "resident_id": 4242}, headers=h)
    assert bad.status_code == 422
    forged = await staffer_client.post("/api/v1/tickets", json=body)  # no CSRF token
    assert forged.status_code == 403


async def test_transitions_need_their_fields_and_tell_the_resident(ctx, staffer_client) -> None:
    t = await _ticket(ctx, notify=False)
    h = await _as(staffer_client, StaffRole.agent)
    url = f"/api/v1/tickets/{t.number}/transitions"
    assert (await staffer_client.post(url, json={"to": "resolved"}, headers=h)).status_code == 422  # no written reply
    assert (await staffer_client.post(url, json={"to": "closed"}, headers=h)).status_code == 409  # new -> closed
    r = await staffer_client.post(url, json={"to": "accepted"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["owner_id"]
    r = await staffer_client.post(url, json={"to": "resolved", "note": "Regulator replaced"}, headers=h)
    assert r.json()["status"] == "resolved" and [e["to_status"] for e in r.json()["events"][1:]] == [
        "accepted", "resolved"]
    texts = [row.payload["text"] for row in await outbox_rows(ctx, WANG)]
    assert any("已受理" in x for x in texts) and any("Regulator replaced" in x for x in texts)
    dup = await _ticket(ctx, notify=False)
    r = await staffer_client.post(f"/api/v1/tickets/{dup.number}/transitions", json={"to": "duplicate"}, headers=h)
    assert r.status_code == 422
    r = await staffer_client.post(f"/api/v1/tickets/{dup.number}/transitions",
                          json={"to": "duplicate", "duplicate_of": t.number}, headers=h)
    assert r.status_code == 200 and r.json()["duplicate_of_id"] == t.id


async def test_assignment_follows_r6(ctx, staffer_client, staffers) -> None:
    t = await _ticket(ctx, notify=False)
    async with ctx.sessionmaker() as session:
        other = await staff.create_staff(session, username="t-agent2", display_name="A2", role=StaffRole.agent,
                                         password="pw-agent2", now=ctx.clock.now())
        await session.commit()
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/assign", json={}, headers=h)
    assert r.status_code == 200 and r.json()["owner_id"] == staffers[StaffRole.agent].id
    assert r.json()["status"] == "accepted"
    await staffer_client.post("/logout", data={"csrf_token": h["X-CSRF-Token"]})
    r = await login(staffer_client, "t-agent2", "pw-agent2")
    h2 = {"X-CSRF-Token": await csrf(staffer_client)}
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/assign", json={}, headers=h2)
    assert r.status_code == 403
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/transitions", json={"to": "in_progress"}, headers=h2)
    assert r.status_code == 403
    await staffer_client.post("/logout", data={"csrf_token": h2["X-CSRF-Token"]})
    hs = await _as(staffer_client, StaffRole.supervisor)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/assign", json={"staff_id": other.id}, headers=hs)
    assert r.status_code == 200 and r.json()["owner_id"] == other.id


async def test_reply_note_classification_and_deadline(ctx, staffer_client) -> None:
    t = await _ticket(ctx, kind=TicketKind.complaint, notify=False)
    h = await _as(staffer_client, StaffRole.agent)
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/reply", json={"text": "We are looking into it"},
                                  headers=h)
    assert r.status_code == 201
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/notes", json={"text": "called the crew"}, headers=h)
    assert r.status_code == 201
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/classification", json={"level": 2, "class": "B"},
                                  headers=h)
    assert r.status_code == 200 and r.json()["complaint_level"] == 2 and r.json()["escalated_at"]
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/classification", json={"level": 3}, headers=h)
    assert r.status_code == 422
    r = await staffer_client.post(f"/api/v1/tickets/{t.number}/deadline",
                          json={"deadline": "2026-12-04T18:00:00+08:00", "reason": "Waiting for the meter maker"},
                          headers=h)
    assert r.status_code == 200
    kinds = [row.kind for row in await outbox_rows(ctx, WANG)]
    assert kinds == ["ticket.reply", "ticket.status"]  # the note is internal; the deadline notice is a status
    async with ctx.sessionmaker() as session:
        rows = (await session.execute(select(OutboxNotification))).scalars().all()
    assert not any("called the crew" in r.payload["text"] for r in rows)


async def test_bearer_token_integration(ctx, staffer_client) -> None:
    async with ctx.sessionmaker() as session:
        token = await staff.create_api_token(session, name="billing", role=StaffRole.operator, now=ctx.clock.now())
        await session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    r = await staffer_client.post("/api/v1/tickets", json={"kind": "inquiry", "subject": "from billing"}, headers=auth)
    assert r.status_code == 201
    r = await staffer_client.get("/api/v1/tickets", headers=auth)
    assert r.status_code == 200 and r.json()["items"]
    r = await staffer_client.put("/api/v1/appointments/capacity", json={"district": "城东区", "window": "09-12",
                                                                "capacity": 9}, headers=auth)
    assert r.status_code == 403  # capacity is a supervisor's
    assert (await staffer_client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_appointments_api(ctx, staffer_client, clock) -> None:
    h = await _as(staffer_client, StaffRole.agent)
    body = {"service": "safety_inspection", "district": "城东区", "address": "城东区人民路1号",
            "day": "2026-11-24", "window": "09-12", "resident_id": WANG, "contact_phone": "13800000001"}
    r = await staffer_client.post("/api/v1/appointments", json=body, headers={**h, "Idempotency-Key": "a1"})
    assert r.status_code == 201 and r.json()["status"] == "requested"
    number = r.json()["number"]
    r = await staffer_client.post("/api/v1/appointments", json={**body, "day": "2026-11-28"}, headers=h)
    assert r.status_code == 409  # a Saturday
    r = await staffer_client.get("/api/v1/appointments", params={"day": "2026-11-24"})
    assert [a["number"] for a in r.json()["items"]] == [number]
    r = await staffer_client.post(f"/api/v1/appointments/{number}/refuse", json={"reason": "no"}, headers=h)
    assert r.status_code == 403  # R2: supervisors only
    r = await staffer_client.post(f"/api/v1/appointments/{number}/propose", json={"day": "2026-11-25",
                                                                                  "window": "14-17"},
                          headers=h)
    assert r.status_code == 200 and r.json()["status"] == "proposed"
    second = (await staffer_client.post("/api/v1/appointments", json={**body, "window": "14-17"}, headers=h)).json()
    r = await staffer_client.post(f"/api/v1/appointments/{second['number']}/confirm", json={}, headers=h)
    assert r.json()["status"] == "confirmed"
    r = await staffer_client.post(f"/api/v1/appointments/{second['number']}/no-show", json={}, headers=h)
    assert r.status_code == 409  # not yet 30 minutes into the window
    clock.set(clock.now().replace(day=24, hour=14, minute=45))
    r = await staffer_client.post(f"/api/v1/appointments/{second['number']}/no-show", json={"note": "nobody"},
                                  headers=h)
    assert r.status_code == 200 and r.json()["status"] == "no_show"
    detail = (await staffer_client.get(f"/api/v1/appointments/{second['number']}")).json()
    assert [e["to_status"] for e in detail["events"]] == ["requested", "confirmed", "no_show"]
    kinds = [row.kind for row in await outbox_rows(ctx, WANG)]
    assert kinds == ["appointment.created", "appointment.proposed", "appointment.created", "appointment.confirmed",
                     "appointment.no_show"]
    hs = await _as(staffer_client, StaffRole.supervisor)
    r = await staffer_client.put("/api/v1/appointments/capacity", json={"district": "城东区", "window": "09-12",
                                                                "capacity": 0, "day": "2026-11-26"}, headers=hs)
    assert r.status_code == 200
    avail = (await staffer_client.get("/api/v1/appointments/availability", params={"district": "城东区"})).json()
    thu = next(d for d in avail if d["day"] == "2026-11-26")
    assert thu["windows"]["09-12"] == 0
    caps = (await staffer_client.get("/api/v1/appointments/capacity", params={"district": "城东区"})).json()
    assert {"district": "城东区", "window": "09-12", "day": "2026-11-26", "capacity": 0} in caps
    r = await staffer_client.delete("/api/v1/appointments/capacity",
                            params={"district": "城东区", "window": "09-12", "day": "2026-11-26"}, headers=hs)
    assert r.status_code == 204
    assert date(2026, 11, 24)


async def test_satisfaction_needs_a_supervisor(ctx, staffer_client) -> None:
    await _as(staffer_client, StaffRole.agent)
    assert (await staffer_client.get("/api/v1/satisfaction")).status_code == 403
    await _as(staffer_client, StaffRole.supervisor)
    r = await staffer_client.get("/api/v1/satisfaction")
    assert r.status_code == 200 and r.json()["answered"] == 0


async def test_escalations_queue_for_supervisors(ctx, staffer_client, clock) -> None:
    """Supervisors see, lastingly, what the live alerts announce: emergencies, level-2 complaints, overdue work
    and visit requests nobody answered within 1 working day; agents may not read the queue."""
    from core import appointments
    from db.enums import ServiceType

    leak = await _ticket(ctx, category="gas_leak", notify=False)
    quiet = await _ticket(ctx, category="no_gas", notify=False)
    major = await _ticket(ctx, kind=TicketKind.complaint, notify=False)
    async with ctx.sessionmaker() as session:
        wang = await session.get(Resident, WANG)
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=wang, service=ServiceType.meter_check, district="城东区",
            address="城东区人民路1号", day=date(2026, 11, 25), window="09-12")
    h = await _as(staffer_client, StaffRole.agent)
    assert (await staffer_client.get("/api/v1/escalations")).status_code == 403
    r = await staffer_client.post(f"/api/v1/tickets/{major.number}/classification", json={"level": 2}, headers=h)
    assert r.status_code == 200, r.text
    await _as(staffer_client, StaffRole.supervisor)
    body = (await staffer_client.get("/api/v1/escalations")).json()
    reasons = {t["number"]: t["reason"] for t in body["tickets"]}
    assert reasons == {leak.number: "emergency", major.number: "major_complaint"}
    assert body["appointments"] == []
    clock.advance(days=3)  # Thursday: past the visit's reply-by (1 working day), not the 3 working days
    body = (await staffer_client.get("/api/v1/escalations")).json()
    assert [a["number"] for a in body["appointments"]] == [appt.number]
    assert body["appointments"][0]["unanswered_overdue"] is True
    clock.advance(days=5)
    reasons = {t["number"]: t["reason"] for t in (await staffer_client.get("/api/v1/escalations")).json()["tickets"]}
    assert reasons[quiet.number] == "overdue" and reasons[leak.number] == "overdue"

"""R19: an ignition cannot be booked until the resident has confirmed each prerequisite (bot and simple mode,
the reason shown for any "no"); the technician records the same checklist, and a failed item closes the visit
as "not ignited" with the reason sent to the resident."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from core import appointments, ignition, tickets
from db.enums import AppointmentStatus, ServiceType, StaffRole
from db.models import Appointment, Resident
from tests import updates
from tests.support.chat import Chat
from tests.support.console import csrf, login
from tests.support.demo import WANG, ZHANG, outbox_rows, set_language
from tests.support.flows import tap_paged
from tests.support.walker import Walker

READY = {i.value: True for i in ignition.ITEMS}


async def _appointments(ctx) -> list[Appointment]:
    async with ctx.sessionmaker() as session:
        return list((await session.execute(select(Appointment).order_by(Appointment.id))).scalars())


async def test_r19_a_no_in_the_bot_stops_the_booking_with_the_reason(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📅 Book a visit")
    await chat.press("Gas ignition")
    assert "(1/4)" in chat.last() and "flame-failure" in chat.last()
    await chat.send("yes")  # typed, not a button: asked again, nothing skipped
    assert "Yes" in chat.last() and "No" in chat.last()
    await chat.press("Yes")
    assert "(2/4)" in chat.last() and "flue" in chat.last()
    await chat.press("Yes")
    assert "(3/4)" in chat.last() and "clamp" in chat.last()
    await chat.press("No")
    said = "\n".join(chat.texts_since(0)[-3:])
    assert "cannot book the gas ignition yet" in said and "hose clamp" in said  # why, and what to do
    assert await _appointments(ctx) == []
    await chat.send("城东区人民路1号")  # the form is over: not taken as an address
    assert await _appointments(ctx) == []


async def test_r19_all_confirmed_in_the_bot_books_and_records_them(ctx, dp, bot, demo_town) -> None:
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📅 Book a visit")
    await chat.press("Gas ignition")
    for n in range(4):
        assert f"({n + 1}/4)" in chat.last()
        await chat.press("Yes")
    assert "everything is ready" in "\n".join(chat.texts_since(0)[-2:])
    await chat.press("城东区")
    await chat.press("Tue")
    await chat.press("09:00–12:00")
    await chat.update(updates.contact("13800000001", user_id=WANG))
    await chat.press("Send the request")
    (appt,) = await _appointments(ctx)
    assert appt.service is ServiceType.ignition and appt.prerequisites == READY


async def test_r19_simple_mode_asks_each_prerequisite(ctx, dp, bot, demo_town) -> None:
    granny = Walker(dp, bot, ZHANG)
    await granny.start()
    await granny.tap("📅")
    screen = await tap_paged(granny, "🔥")
    assert "（1/4）" in screen.text and "熄火保护" in screen.text
    for _ in range(3):
        screen = await granny.tap("是的")
    assert "（4/4）" in screen.text and "阀门" in screen.text
    screen = await granny.tap("没有")
    assert any("暂时还不能预约通气点火" in t and "表前阀" in t for t in screen.texts)
    assert await _appointments(ctx) == []
    # All four confirmed: on to the address, and the booking records them.
    await granny.tap("📅")
    await tap_paged(granny, "🔥")
    for _ in range(4):
        screen = await granny.tap("是的")
    assert "条件已全部具备" in screen.text
    screen = await granny.tap("继续")
    assert any("🏡" in b for b in screen.flat)
    await granny.tap("🏡")
    await granny.tap("明天")
    await granny.tap("上午")
    await granny.share_contact("13800000003")
    send = granny.screen.find("✅")
    await granny.dp.feed_update(granny.bot, updates.text(send, user_id=ZHANG))
    (appt,) = await _appointments(ctx)
    assert appt.service is ServiceType.ignition and appt.prerequisites == READY


async def test_r19_core_and_api_refuse_an_unconfirmed_ignition(ctx, session, staffers, demo_town) -> None:
    wang = await session.get(Resident, WANG)
    for partial in (None, {**READY, "valves_closed": False}, {k: True for k in list(READY)[:3]}):
        with pytest.raises(tickets.InvalidInput, match="R19"):
            await appointments.request_appointment(
                session, ctx=ctx, resident=wang, service=ServiceType.ignition, district="城东区",
                address="城东区人民路1号", day=date(2026, 11, 24), window="09-12", prerequisites=partial)
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await login(c, "t-agent", "pw-agent")).status_code == 303
        h = {"X-CSRF-Token": await csrf(c)}
        body = {"service": "ignition", "district": "城东区", "address": "城东区人民路1号", "day": "2026-11-24",
                "window": "09-12", "resident_id": WANG}
        r = await c.post("/api/v1/appointments", json=body, headers=h)
        assert r.status_code == 422 and "R19" in r.json()["detail"]
        assert await _appointments(ctx) == []
        r = await c.post("/api/v1/appointments", json={**body, "prerequisites": READY}, headers=h)
        assert r.status_code == 201


async def _confirmed_ignition(ctx, staffers) -> Appointment:
    async with ctx.sessionmaker() as session:
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=await session.get(Resident, WANG), service=ServiceType.ignition,
            district="城东区", address="城东区人民路1号", day=date(2026, 11, 24), window="09-12", prerequisites=READY)
        await appointments.confirm(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent])
        return appt


async def test_r19_console_checklist_failed_item_closes_as_not_ignited(ctx, staffers, clock) -> None:
    appt = await _confirmed_ignition(ctx, staffers)
    clock.set(datetime(2026, 11, 24, 10, 0))
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await login(c, "t-agent", "pw-agent")).status_code == 303
        page = await c.get("/console/appointments?day=2026-11-24")
        assert "ignition-checklist" in page.text and 'value="flue_outdoors"' in page.text
        h = {"X-CSRF-Token": await csrf(c)}
        # "Completed" without the checklist is refused for an ignition.
        r = await c.post(f"/console/appointments/{appt.number}/complete", data={}, headers=h)
        assert "R19" in httpx.URL(r.headers["location"]).params["error"]
        r = await c.post(f"/console/appointments/{appt.number}/ignition", headers=h,
                         data={"check": ["flame_failure", "hoses_clamped", "valves_closed"]})
        assert r.status_code == 303 and "error" not in r.headers["location"]
    (done,) = await _appointments(ctx)
    assert done.status is AppointmentStatus.not_ignited
    assert done.visit_checklist == {**READY, "flue_outdoors": False, "ignited": False}
    told = [r for r in await outbox_rows(ctx, WANG) if r.kind == "appointment.not_ignited"]
    assert len(told) == 1 and appt.number in told[0].payload["text"] and "烟道" in told[0].payload["text"]


async def test_r19_all_items_pass_completes_the_ignition(ctx, session, staffers, clock) -> None:
    appt = await _confirmed_ignition(ctx, staffers)
    appt = await session.get(Appointment, appt.id)
    with pytest.raises(tickets.InvalidInput, match="R19"):
        await appointments.complete(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent])
    await appointments.record_ignition_visit(session, ctx=ctx, appt=appt, staff=staffers[StaffRole.agent],
                                             checks=READY)
    assert appt.status is AppointmentStatus.completed and appt.visit_checklist["ignited"] is True
    assert not [r for r in await outbox_rows(ctx, WANG) if r.kind == "appointment.not_ignited"]


async def test_r19_not_ignited_visit_is_listed_in_my_requests(ctx, dp, bot, staffers, clock) -> None:
    appt = await _confirmed_ignition(ctx, staffers)
    clock.set(datetime(2026, 11, 24, 10, 0))
    async with ctx.sessionmaker() as session:
        a = await session.get(Appointment, appt.id)
        await appointments.record_ignition_visit(session, ctx=ctx, appt=a, staff=staffers[StaffRole.agent],
                                                 checks={**READY, "hoses_clamped": False})
    await set_language(ctx, WANG, "en")
    chat = Chat(dp, bot, WANG)
    await chat.send("📋 My requests")
    assert appt.number in chat.last() and "Not ignited (we sent you the reason)" in chat.last()

"""The console's outage pages, end to end: an operator announces a planned water outage for one district,
only the residents there receive it in their languages, a resident who asks "为什么没水" gets the notice,
and the restoration notice follows."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.sender import Sender
from core.clock import LOCAL_TZ
from db.enums import OutageStatus, OutboxStatus
from db.models import OutageNotice, OutboxNotification
from tests import updates
from tests.support.console import csrf, login
from tests.support.outages import build_town

pytestmark = pytest.mark.usefixtures("compiled_catalogs")

PASSWORD = "x" * 12  # build_town's staff password


def _form(**kw) -> dict:
    base = {"utility": "water", "kind": "planned", "districts": ["城东区"], "streets": "", "buildings": "",
            "reason_zh": "更换主管道阀门", "reason_en": "Replacing a main valve",
            "starts_at": "2026-12-02T08:00", "restore_at": "2026-12-02T16:00"}
    base.update(kw)
    return base


async def _login(staff_client, role: str):
    r = await login(staff_client, f"t-{role}", PASSWORD)
    assert r.status_code == 303, r.text
    return await csrf(staff_client)


async def _create(staff_client, token: str, **kw):
    return await staff_client.post("/console/outages", data={**_form(**kw), "csrf_token": token})


async def _deliver_all(ctx, bot) -> None:
    sender = Sender(ctx, bot, worker_id="test")
    sender.per_chat = 0
    while await sender.run_once():
        pass


async def test_operator_announces_residents_receive_ask_and_restoration(staff_client, ctx, session, clock, bot, dp):
    await build_town(session, clock.now())
    token = await _login(staff_client, "operator")
    page = await staff_client.get("/console/outages")
    assert page.status_code == 200 and "新建停供公告" in page.text and "城东区" in page.text

    r = await _create(staff_client, token)
    assert r.status_code == 303
    detail = await staff_client.get(r.headers["location"])
    assert re.search(r'id="audience-total">4<', detail.text)
    assert re.search(r'id="audience-zh">2<', detail.text) and re.search(r'id="audience-en">2<', detail.text)
    assert "计划停水" in detail.text and "Planned water outage" in detail.text  # both texts previewed
    outage_id = int(r.headers["location"].rsplit("/", 1)[1])

    r = await staff_client.post(f"/console/outages/{outage_id}/announce", data={"csrf_token": token})
    assert r.status_code == 303
    await _deliver_all(ctx, bot)
    got = {m.chat_id: m.text for m in bot.sent()}
    assert set(got) == {1, 2, 4, 6}  # 3 lives in 城西区; 5 blocked the bot
    assert "计划停水" in got[1] and "计划停水" in got[6]
    assert "Planned water outage" in got[2] and "Planned water outage" in got[4]
    detail = await staff_client.get(f"/console/outages/{outage_id}")
    assert re.search(r'data-k="sent">4<', detail.text) and re.search(r'data-k="pending">0<', detail.text)

    # During the outage, resident 1 asks in their own words.
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=LOCAL_TZ))
    bot.clear()
    await dp.feed_update(bot, updates.text("为什么没水了", user_id=1))
    answer = "\n".join(bot.texts())
    assert "计划停水" in answer and "更换主管道阀门" in answer and "预计恢复" in answer and "歉意" in answer
    assert (await session.execute(select(func.count()).select_from(
        __import__("db.models", fromlist=["Ticket"]).Ticket))).scalar_one() == 0  # R8: no duplicate ticket

    # Supply back: the restoration notice follows to the same residents.
    clock.set(datetime(2026, 12, 2, 15, 0, tzinfo=LOCAL_TZ))
    r = await staff_client.post(f"/console/outages/{outage_id}/restore", data={"csrf_token": token})
    assert r.status_code == 303
    bot.clear()
    await _deliver_all(ctx, bot)
    got = {m.chat_id: m.text for m in bot.sent()}
    assert set(got) == {1, 2, 4, 6} and "已恢复供应" in got[1] and "Supply restored" in got[2]
    outage = await session.get(OutageNotice, outage_id, populate_existing=True)
    assert outage.status is OutageStatus.restored


async def test_late_notice_is_refused_with_the_reason_and_only_a_supervisor_overrides(staff_client, ctx, session,
                                                                                      clock):
    await build_town(session, clock.now())
    token = await _login(staff_client, "operator")
    r = await _create(staff_client, token, starts_at="2026-11-26T08:00", restore_at="2026-11-26T12:00")
    outage_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = await staff_client.get(f"/console/outages/{outage_id}")
    assert "7 working days" in page.text and "override_reason" not in page.text  # operators see no override
    r = await staff_client.post(f"/console/outages/{outage_id}/announce",
                          data={"csrf_token": token, "override_reason": "I am sure it is fine"})
    assert r.status_code == 409 and "supervisor" in r.text
    assert (await session.execute(select(func.count()).select_from(OutboxNotification))).scalar_one() == 0

    await staff_client.post("/logout", data={"csrf_token": token})
    token = await _login(staff_client, "supervisor")
    page = await staff_client.get(f"/console/outages/{outage_id}")
    assert "override_reason" in page.text
    r = await staff_client.post(f"/console/outages/{outage_id}/announce",
                          data={"csrf_token": token, "override_reason": "Main valve leaking, repair cannot wait"})
    assert r.status_code == 303
    outage = await session.get(OutageNotice, outage_id, populate_existing=True)
    assert outage.status is OutageStatus.announced and "cannot wait" in outage.override_reason


async def test_bad_input_changes_nothing(staff_client, ctx, session, clock):
    await build_town(session, clock.now())
    token = await _login(staff_client, "operator")
    for bad in (dict(districts=[], streets="城东区"),  # street without its district part
                dict(districts=[], buildings="火星区 人民路 1"),  # unknown address
                dict(starts_at="tomorrow"), dict(restore_at="2026-12-01T08:00"),  # before the start
                dict(reason_zh=""), dict(utility="steam"), dict(reason_en="x" * 5000)):
        r = await _create(staff_client, token, **bad)
        assert r.status_code == 400, bad
        assert 'class="error"' in r.text
    assert (await session.execute(select(func.count()).select_from(OutageNotice))).scalar_one() == 0
    assert (await staff_client.get("/console/outages/999")).status_code == 404
    assert (await staff_client.post("/console/broadcasts/1/explode", data={"csrf_token": token})).status_code == 422


async def test_roles_and_csrf(staff_client, ctx, session, clock):
    await build_town(session, clock.now())
    assert (await staff_client.get("/console/outages")).status_code == 303  # login first
    token = await _login(staff_client, "agent")
    assert (await staff_client.get("/console/outages")).status_code == 403
    assert (await _create(staff_client, token)).status_code == 403
    await staff_client.post("/logout", data={"csrf_token": token})
    await _login(staff_client, "operator")
    r = await staff_client.post("/console/outages", data=_form())  # no CSRF token
    assert r.status_code == 403
    assert (await session.execute(select(func.count()).select_from(OutageNotice))).scalar_one() == 0


async def test_pause_resume_cancel_from_the_progress_box(staff_client, ctx, session, clock, bot):
    await build_town(session, clock.now())
    token = await _login(staff_client, "operator")
    r = await _create(staff_client, token)
    outage_id = int(r.headers["location"].rsplit("/", 1)[1])
    await staff_client.post(f"/console/outages/{outage_id}/announce", data={"csrf_token": token})
    bid = (await session.execute(select(OutboxNotification.broadcast_id).limit(1))).scalar_one()
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    frag = await staff_client.get(f"/console/broadcasts/{bid}/progress", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in frag.text and "暂停" in frag.text  # Pause (staff read Chinese by default)

    r = await staff_client.post(f"/console/broadcasts/{bid}/pause", headers=hx)
    assert r.status_code == 200 and "继续" in r.text
    sender = Sender(ctx, bot, worker_id="t")
    assert await sender.run_once() == 0  # paused: nothing is handed to senders
    r = await staff_client.post(f"/console/broadcasts/{bid}/pause", headers=hx)
    assert r.status_code == 409  # already paused
    r = await staff_client.post(f"/console/broadcasts/{bid}/resume", headers=hx)
    assert "暂停" in r.text
    sender.batch_size = 1
    assert await sender.run_once() == 1
    r = await staff_client.post(f"/console/broadcasts/{bid}/cancel", headers=hx)
    assert r.status_code == 200 and 'data-k="cancelled">3<' in r.text and "every 2s" not in r.text
    statuses = (await session.execute(select(OutboxNotification.status))).scalars().all()
    assert sorted(s.value for s in statuses) == ["cancelled"] * 3 + ["sent"]
    assert OutboxStatus.pending not in statuses

"""Outage notices in core: areas, R9 lead times, audience, follow-ups, reminders, what residents are told."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import outages
from core.clock import LOCAL_TZ
from db.enums import BroadcastStatus, OutageKind, OutageStatus, OutboxStatus, StaffRole, Utility
from db.models import AuditLog, Broadcast, OutageNotice, OutboxNotification
from tests.support.outages import build_town

pytestmark = pytest.mark.usefixtures("compiled_catalogs")

DEC2 = datetime(2026, 12, 2, 8, 0, tzinfo=LOCAL_TZ)  # 7th working day after Mon 23 Nov
DEC1 = datetime(2026, 12, 1, 8, 0, tzinfo=LOCAL_TZ)  # only the 6th


async def _draft(session, ctx, town, *, kind=OutageKind.planned, starts_at=DEC2, hours=8, area=None,
                 utility=Utility.water) -> OutageNotice:
    return await outages.create_notice(
        session, ctx=ctx, staff=town.staff[StaffRole.operator], utility=utility, kind=kind,
        reason_zh="更换主管道阀门", reason_en="Replacing a main valve", area=area or {"districts": ["城东区"]},
        starts_at=starts_at, restore_at=starts_at + timedelta(hours=hours))


async def _rows(session, broadcast_id: int) -> list[OutboxNotification]:
    q = select(OutboxNotification).where(OutboxNotification.broadcast_id == broadcast_id)
    return list((await session.execute(q.order_by(OutboxNotification.resident_id))).scalars())


# --- areas ---------------------------------------------------------------------------------------------------


def test_area_is_normalised_and_matched() -> None:
    area = outages.normalize_area({
        "districts": [" 城东区 "],
        "streets": [{"district": "城东区", "street": "人民路"}, {"district": "城西区", "street": "建设路"}],
        "buildings": [{"district": "城西区", "street": "建设路", "building": "3"},
                      {"district": "城南区", "street": "南山路", "building": "12"}],
    })
    # Entries already covered by a wider one are dropped.
    assert area == {"districts": ["城东区"], "streets": [{"district": "城西区", "street": "建设路"}],
                    "buildings": [{"district": "城南区", "street": "南山路", "building": "12"}]}
    assert outages.area_matches(area, district="城东区", street="任意路", building="9")
    assert outages.area_matches(area, district="城西区", street="建设路", building="99")
    assert not outages.area_matches(area, district="城西区", street="西湖路", building="1")
    assert outages.area_matches(area, district="城南区", street="南山路", building="12")
    assert not outages.area_matches(area, district="城南区", street="南山路", building="13")
    # Only the district known: a notice for part of it may concern the caller.
    assert outages.area_matches(area, district="城南区")
    assert not outages.area_matches(area, district="城北区")
    assert outages.area_districts(area) == ["城东区", "城南区", "城西区"]


@pytest.mark.parametrize("bad", [{}, {"districts": []}, {"streets": [{"district": "", "street": "x"}]},
                                 {"buildings": [{"district": "城东区", "street": "人民路"}]}])
def test_bad_areas_are_refused(bad) -> None:
    with pytest.raises(outages.OutageError):
        outages.normalize_area(bad)


async def test_unknown_address_is_refused_as_typo(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    with pytest.raises(outages.OutageError, match="No account address"):
        await _draft(session, ctx, town, area={"streets": [{"district": "城东区", "street": "人民 路"}]})
    assert (await session.execute(select(func.count()).select_from(OutageNotice))).scalar_one() == 0


# --- R9 lead times -------------------------------------------------------------------------------------------


def test_r9_lead_times_on_the_working_day_calendar(ctx, clock) -> None:
    now = clock.now()  # Monday 23 Nov 2026, 10:00
    check = outages.lead_time_problem
    assert check(ctx.calendar, kind=OutageKind.planned, starts_at=DEC2, now=now) is None
    problem = check(ctx.calendar, kind=OutageKind.planned, starts_at=DEC1, now=now)
    assert problem and "7 working days" in problem and "2026-12-02" in problem
    assert check(ctx.calendar, kind=OutageKind.temporary, starts_at=now + timedelta(hours=25), now=now) is None
    assert "24 hours" in check(ctx.calendar, kind=OutageKind.temporary, starts_at=now + timedelta(hours=20), now=now)
    assert check(ctx.calendar, kind=OutageKind.emergency, starts_at=now - timedelta(hours=1), now=now) is None


def test_r9_counts_holidays_not_calendar_days(ctx) -> None:
    # Announced Monday 28 Sep 2026: the National Day holiday (1–7 Oct) does not count; the make-up
    # working days do (chinese-calendar's official 2026 schedule).
    now = datetime(2026, 9, 28, 10, 0, tzinfo=LOCAL_TZ)
    nine_days_later = datetime(2026, 10, 7, 9, 0, tzinfo=LOCAL_TZ)
    assert outages.lead_time_problem(ctx.calendar, kind=OutageKind.planned, starts_at=nine_days_later, now=now)
    earliest = ctx.calendar.add_working_days(now.date(), 7)
    ok = datetime.combine(earliest, datetime.min.time(), tzinfo=LOCAL_TZ).replace(hour=9)
    assert outages.lead_time_problem(ctx.calendar, kind=OutageKind.planned, starts_at=ok, now=now) is None


async def test_late_notice_refused_then_supervisor_override_recorded(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    outage = await _draft(session, ctx, town, starts_at=DEC1)
    with pytest.raises(outages.LeadTimeError, match="R9"):
        await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    with pytest.raises(outages.LeadTimeError, match="supervisor"):
        await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator],
                               override_reason="Valve failing; cannot wait a week")
    with pytest.raises(outages.LeadTimeError, match="justification"):
        await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.supervisor],
                               override_reason="ok")
    await session.refresh(outage)
    assert outage.status is OutageStatus.draft
    assert (await session.execute(select(func.count()).select_from(OutboxNotification))).scalar_one() == 0

    sup = town.staff[StaffRole.supervisor]
    bc = await outages.announce(session, ctx=ctx, outage=outage, staff=sup,
                                override_reason="Valve failing; cannot wait a week")
    await session.refresh(outage)
    assert outage.status is OutageStatus.announced and outage.override_by_id == sup.id
    assert outage.override_reason == "Valve failing; cannot wait a week"
    actions = (await session.execute(select(AuditLog.action).where(AuditLog.staff_id == sup.id))).scalars().all()
    assert "outage.override" in actions and "outage.announce" in actions
    assert bc.total > 0


# --- audience --------------------------------------------------------------------------------------------------


async def test_announcement_reaches_exactly_the_area_once_each_in_their_language(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    outage = await _draft(session, ctx, town)
    preview = await outages.audience_preview(session, outage)
    # 1 (zh, two accounts), 2 (en), 4 (en, subscriber), 6 (no language → zh); 5 blocked; 3 elsewhere.
    assert preview.by_language == {"zh_Hans": 2, "en": 2} and preview.blocked == 1
    assert preview.linked == 3 and preview.subscribed == 1 and preview.total == 4

    bc = await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    rows = await _rows(session, bc.id)
    assert [r.resident_id for r in rows] == [1, 2, 4, 6] and bc.total == 4
    assert all(r.status is OutboxStatus.pending and r.priority < 0 for r in rows)
    by_id = {r.resident_id: r.payload["text"] for r in rows}
    assert "计划停水" in by_id[1] and "更换主管道阀门" in by_id[1] and "预计恢复" in by_id[1]
    assert "深表歉意" in by_id[1] and "城东区" in by_id[1]
    assert "Planned water outage" in by_id[2] and "Replacing a main valve" in by_id[2]
    assert "Estimated restoration: Wed 2 Dec, 16:00" in by_id[2] and "apologise" in by_id[2]
    assert by_id[6] == by_id[1]  # no language chosen yet: Chinese, the default
    assert len({r.dedupe_key for r in rows}) == 4


async def test_building_level_area_and_utility_agnostic_addresses(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    area = {"buildings": [{"district": "城东区", "street": "人民路", "building": "1"}]}
    outage = await _draft(session, ctx, town, area=area, utility=Utility.gas)
    recipients = await outages.audience(session, outage)
    # Residents 1 (gas + water there) and 6 (power account there): a gas cut concerns the whole building.
    # Resident 4 is subscribed to 城东区, which this notice touches.
    assert [rid for rid, _ in recipients] == [1, 4, 6]


async def test_follow_ups_reach_the_same_audience_and_never_twice(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    op = town.staff[StaffRole.operator]
    outage = await _draft(session, ctx, town)
    first = await outages.announce(session, ctx=ctx, outage=outage, staff=op)
    told = [r.resident_id for r in await _rows(session, first.id)]

    ext = await outages.follow_up(session, ctx=ctx, outage=outage, staff=op, kind="extended",
                                  restore_at=DEC2 + timedelta(hours=12), note_zh="管道锈蚀严重",
                                  note_en="The pipe is badly corroded")
    rows = await _rows(session, ext.id)
    assert [r.resident_id for r in rows] == told
    texts = {r.resident_id: r.payload["text"] for r in rows}
    assert "恢复时间延后" in texts[1] and "管道锈蚀严重" in texts[1] and "12月2日 周三 20:00" in texts[1]
    assert "take longer" in texts[2] and "badly corroded" in texts[2]

    with pytest.raises(outages.OutageError):  # an "extension" to an earlier time is a mistake
        await outages.follow_up(session, ctx=ctx, outage=outage, staff=op, kind="extended", restore_at=DEC2)

    clock.set(DEC2 + timedelta(hours=10))
    done = await outages.restore(session, ctx=ctx, outage=outage, staff=op)
    rows = await _rows(session, done.id)
    assert [r.resident_id for r in rows] == told
    assert "已恢复供应" in rows[0].payload["text"]
    with pytest.raises(outages.OutageError):
        await outages.restore(session, ctx=ctx, outage=outage, staff=op)
    # One row per resident per update.
    per = (await session.execute(
        select(OutboxNotification.resident_id, func.count()).group_by(OutboxNotification.resident_id)
    )).all()
    assert dict(per) == {1: 3, 2: 3, 4: 3, 6: 3}


async def test_someone_told_before_hears_the_restoration_even_after_unsubscribing(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    op = town.staff[StaffRole.operator]
    outage = await _draft(session, ctx, town)
    await outages.announce(session, ctx=ctx, outage=outage, staff=op)
    assert await outages.toggle_subscription(session, resident_id=4, district="城东区", now=clock.now()) is False
    bc = await outages.restore(session, ctx=ctx, outage=outage, staff=op)
    assert 4 in [r.resident_id for r in await _rows(session, bc.id)]


async def test_cancel_an_announced_notice_tells_its_audience(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    outage = await _draft(session, ctx, town)
    await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    bc = await outages.cancel(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    rows = await _rows(session, bc.id)
    assert len(rows) == 4 and "撤销" in rows[0].payload["text"]
    draft = await _draft(session, ctx, town)
    assert await outages.cancel(session, ctx=ctx, outage=draft, staff=town.staff[StaffRole.operator]) is None


async def test_empty_audience_finishes_at_once(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    area = {"buildings": [{"district": "城南区", "street": "南山路", "building": "3"}]}
    bc = await outages.announce(session, ctx=ctx, outage=await _draft(session, ctx, town, area=area),
                                staff=town.staff[StaffRole.operator])
    assert bc.total == 0 and bc.status is BroadcastStatus.done


# --- reminders -------------------------------------------------------------------------------------------------


async def test_day_before_reminder_once_and_not_at_night(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    outage = await _draft(session, ctx, town)
    await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    assert await outages.send_due_reminders(ctx) == 0  # a week early
    clock.set(datetime(2026, 12, 1, 7, 0, tzinfo=LOCAL_TZ))
    assert await outages.send_due_reminders(ctx) == 0  # the day before, but too early in the morning
    clock.set(datetime(2026, 12, 1, 9, 30, tzinfo=LOCAL_TZ))
    assert await outages.send_due_reminders(ctx) == 1
    assert await outages.send_due_reminders(ctx) == 0  # idempotent: a second worker or a repeat does nothing
    bcs = (await session.execute(select(Broadcast).where(Broadcast.title.contains("reminder")))).scalars().all()
    assert len(bcs) == 1
    rows = await _rows(session, bcs[0].id)
    assert len(rows) == 4 and "温馨提醒" in rows[0].payload["text"] and "12月2日 周三 08:00" in rows[0].payload["text"]


async def test_postponed_work_gets_its_reminder_for_the_new_date(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    op = town.staff[StaffRole.operator]
    outage = await _draft(session, ctx, town)
    await outages.announce(session, ctx=ctx, outage=outage, staff=op)
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ))
    assert await outages.send_due_reminders(ctx) == 1
    await outages.follow_up(session, ctx=ctx, outage=outage, staff=op, kind="delayed",
                            starts_at=DEC2 + timedelta(days=2), note_zh="设备未到货")
    assert await outages.send_due_reminders(ctx) == 0
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=LOCAL_TZ))
    assert await outages.send_due_reminders(ctx) == 1


# --- what a resident who asks is told (R8, R9) -------------------------------------------------------------------


async def test_active_outages_and_the_answer_to_why_no_water(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    op = town.staff[StaffRole.operator]
    emergency = await _draft(session, ctx, town, kind=OutageKind.emergency, starts_at=clock.now() - timedelta(hours=2),
                             hours=6, area={"streets": [{"district": "城东区", "street": "人民路"}]})
    planned = await _draft(session, ctx, town)
    assert await outages.active_outages_at(session, now=clock.now(), district="城东区", street="人民路") == []
    await outages.announce(session, ctx=ctx, outage=emergency, staff=op)
    await outages.announce(session, ctx=ctx, outage=planned, staff=op)
    now = clock.now()

    found = await outages.active_outages_at(session, now=now, district="城东区", street="人民路", building="1")
    assert [o.id for o in found] == [emergency.id]  # the planned one has not started
    assert await outages.active_outages_at(session, now=now, district="城东区", street="东风街") == []
    assert await outages.active_outages_at(session, now=now, district="城东区", street="人民路",
                                           utility=Utility.gas) == []
    assert [o.id for o in await outages.outage_for_resident(session, resident_id=1, now=now)] == [emergency.id]
    assert await outages.outage_for_resident(session, resident_id=3, now=now) == []

    answer = outages.outage_answer(found, "zh_Hans", now=now, translator=ctx.translator)
    assert "无需另行报修" in answer and "紧急停水" in answer and "更换主管道阀门" in answer
    assert "预计恢复" in answer and "深表歉意" in answer and "目前正在停供" in answer
    en = outages.outage_text(emergency, "en", now=now, translator=ctx.translator)
    assert "Emergency water outage" in en and "In progress now." in en and "Replacing a main valve" in en

    view = await outages.resident_outages(session, resident_id=1, now=now)
    assert [o.id for o in view.current] == [emergency.id] and [o.id for o in view.upcoming] == [planned.id]

    # Past its estimate: "taking longer"; long past and forgotten: no longer swallows fault reports (R8).
    clock.set(emergency.restore_at + timedelta(hours=1))
    assert "longer than estimated" in outages.outage_text(emergency, "en", now=clock.now())
    clock.set(emergency.restore_at + outages.STALE_AFTER + timedelta(minutes=1))
    assert await outages.active_outages_at(session, now=clock.now(), district="城东区", street="人民路") == []


async def test_reason_text_is_escaped(session, ctx, clock) -> None:
    town = await build_town(session, clock.now())
    outage = await outages.create_notice(
        session, ctx=ctx, staff=town.staff[StaffRole.operator], utility=Utility.power, kind=OutageKind.emergency,
        reason_zh="<b>变压器</b> & 线路", reason_en="<script>x</script>", area={"districts": ["城西区"]},
        starts_at=clock.now(), restore_at=clock.now() + timedelta(hours=3))
    assert "&lt;b&gt;变压器&lt;/b&gt; &amp; 线路" in outages.outage_text(outage, "zh_Hans")
    assert "<script>" not in outages.outage_text(outage, "en")


async def test_subscriptions_toggle_and_refuse_unknown_districts(session, ctx, clock) -> None:
    await build_town(session, clock.now())
    assert await outages.toggle_subscription(session, resident_id=3, district="城南区", now=clock.now()) is True
    assert await outages.subscriptions(session, 3) == ["城南区"]
    assert await outages.toggle_subscription(session, resident_id=3, district="城南区", now=clock.now()) is False
    with pytest.raises(outages.OutageError):
        await outages.toggle_subscription(session, resident_id=3, district="火星区", now=clock.now())
    assert await outages.subscriptions(session, 3) == []

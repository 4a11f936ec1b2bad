"""Guided mode: booking a home visit by buttons only (issue 8, R2)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from core import slots
from core.clock import LOCAL_TZ
from db.enums import AppointmentStatus, ServiceType
from db.models import Appointment
from tests import updates
from tests.support.demo import GRANNY
from tests.support.flows import tap_paged

TOMORROW, DAY_AFTER = date(2026, 11, 24), date(2026, 11, 25)  # the tests' clock: Monday 2026-11-23 10:00


async def _appointments(ctx) -> list[Appointment]:
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(Appointment))).scalars())


async def test_safety_inspection_tomorrow_morning_by_buttons_only(granny, demo_town_guided) -> None:
    await granny.start()
    screen = await granny.tap("📅")
    assert any("🔥" in b for b in screen.flat) and any("➡️" in b for b in screen.flat)  # six services, paged
    screen = await granny.tap("🛡")
    assert "南山路" in screen.text
    screen = await granny.tap("🏡")
    assert any("明天" in b for b in screen.flat) and any("后天" in b for b in screen.flat)
    assert any("🗓" in b for b in screen.flat)
    screen = await granny.tap("明天")
    assert "11月24日" in screen.text and any("上午" in b for b in screen.flat)
    screen = await granny.tap("上午")
    screen = await granny.share_contact("13900000009", own=False)  # someone else's card: refused
    assert "别人" in screen.texts[0] and await _appointments(demo_town_guided) == []
    screen = await granny.share_contact("13800000003")
    assert "燃气安全检查" in screen.text or "安检" in screen.text
    assert "11月24日" in screen.text and "09:00" in screen.text and "138****0003" in screen.text

    # Back keeps the choices: the day screen says which day was chosen, the service screen which service.
    await granny.back()  # phone
    await granny.back()  # time
    screen = await granny.back()  # day
    assert "您选的是" in screen.text and "11月24日" in screen.text
    await granny.back()  # address
    screen = await granny.back()  # service
    assert "您选的是" in screen.text
    await granny.tap("🛡")
    await granny.tap("🏡")
    await granny.tap("明天")
    await granny.tap("上午")
    screen = await granny.tap("☎️")
    assert "138****0003" in screen.text

    send = granny.screen.find("✅")
    granny.bot.clear()
    await granny.dp.feed_update(granny.bot, updates.text(send, user_id=GRANNY))
    await granny.dp.feed_update(granny.bot, updates.text(send, user_id=GRANNY))  # a double tap
    [appt] = await _appointments(demo_town_guided)
    assert granny.bot.texts()[-2] == f"已经提交过了，预约号{appt.number}。"  # the second tap is answered
    assert appt.service is ServiceType.safety_inspection and appt.status is AppointmentStatus.requested
    assert (appt.day, appt.window, appt.contact_phone) == (TOMORROW, "09-12", "13800000003")
    assert appt.resident_id == GRANNY and appt.account_id is not None and appt.district == "城南区"
    said = "\n".join(granny.bot.texts())
    assert appt.number in said and "1个工作日" in said


async def test_choose_a_day_pages_through_bookable_days_only(granny, demo_town_guided, clock) -> None:
    # Close Tuesday in 城南区: "tomorrow" is no longer offered; the day after still is.
    async with demo_town_guided.sessionmaker() as s:
        for window in ("09-12", "14-17"):
            await slots.set_capacity(s, ctx=demo_town_guided, staff=None, district="城南区", window=window, capacity=0,
                                     day=TOMORROW)
    await granny.start()
    await granny.tap("📅")
    await tap_paged(granny, "🧓")  # the home visit for elderly residents, on the second page
    screen = await granny.tap("🏡")
    assert not any("明天" in b for b in screen.flat) and any("后天" in b for b in screen.flat)
    screen = await granny.tap("🗓")
    shown: list[str] = []
    for _ in range(6):  # page through every bookable day
        shown += [b for b in screen.flat if "📅" in b]
        if not any("➡️" in b for b in screen.flat):
            break
        screen = await granny.tap("➡️")
        if any(b in shown for b in screen.flat if "📅" in b):
            break
    assert not any("11月24日" in b for b in shown)  # the closed day
    assert not any("11月28日" in b or "11月29日" in b for b in shown)  # the weekend
    assert len(shown) == 14 - 1
    screen = await tap_paged(granny, "12月1日")
    assert "12月1日" in screen.text
    await granny.tap("下午")
    await granny.tap("☎️")
    await granny.tap("✅")
    [appt] = await _appointments(demo_town_guided)
    assert appt.day == date(2026, 12, 1) and appt.window == "14-17" and appt.service is ServiceType.home_visit


async def test_on_a_friday_tomorrow_is_not_offered_and_the_first_free_day_is(granny, demo_town_guided, clock) -> None:
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL_TZ))  # Friday
    await granny.start()
    await granny.tap("📅")
    await granny.tap("🛡")
    screen = await granny.tap("🏡")
    assert not any("明天" in b or "后天" in b for b in screen.flat)
    assert any("11月30日" in b for b in screen.flat)  # Monday
    # A typed word where a button is expected: a polite answer, the same buttons, nothing booked.
    again = await granny._feed(updates.text("紫色大象", user_id=GRANNY))
    assert "没听懂" in again.texts[0] and again.flat == screen.flat
    assert await _appointments(demo_town_guided) == []


async def test_a_full_window_is_not_offered_and_a_race_keeps_the_other_answers(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("📅")
    await granny.tap("🛡")
    await granny.tap("🏡")
    await granny.tap("明天")
    await granny.tap("上午")
    await granny.tap("☎️")
    # Meanwhile the last places of that morning are taken at the counter.
    async with demo_town_guided.sessionmaker() as s:
        await slots.set_capacity(s, ctx=demo_town_guided, staff=None, district="城南区", window="09-12", capacity=0,
                                 day=TOMORROW)
    screen = await granny.tap("✅")
    assert "其他信息都保留" in " ".join(screen.texts) and any("明天" in b for b in screen.flat)
    screen = await granny.tap("明天")
    assert not any("上午" in b for b in screen.flat) and any("下午" in b for b in screen.flat)
    await granny.tap("下午")
    screen = await granny.tap("☎️")  # the phone is asked again only because the form went back a step
    await granny.tap("✅")
    [appt] = await _appointments(demo_town_guided)
    assert appt.window == "14-17" and appt.service is ServiceType.safety_inspection


async def test_without_a_linked_account_the_resident_is_offered_linking_or_a_person(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("📅")
    screen = await lina.tap("➡️")  # the second page of services, in English, fits the screen too
    assert any("🧓" in b for b in screen.flat)
    await lina.tap("➡️")
    screen = await lina.tap("🛡")
    assert "link" in screen.text and any("👩‍💼" in b for b in screen.flat)
    assert await _appointments(demo_town_guided) == []


async def test_book_a_visit_from_a_guide_offers_its_service_first(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("📚")
    await granny.tap("🔥")
    await tap_paged(granny, "通气点火")
    screen = await tap_paged(granny, "📅")
    assert "🔥" in screen.flat[0] and "点火" in screen.flat[0]

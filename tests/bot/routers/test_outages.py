"""⚡ Outages in the bot: current and upcoming outages at the resident's addresses, district subscriptions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from aiogram.types import InlineKeyboardMarkup

from bot.routers.outages import OutageAction, OutageCallback
from core import outages
from core.clock import LOCAL_TZ
from db.enums import OutageKind, StaffRole, Utility
from tests import updates
from tests.support.outages import build_town

pytestmark = pytest.mark.usefixtures("compiled_catalogs")


async def _announce(session, ctx, town, *, kind, starts_at, area, utility=Utility.water):
    outage = await outages.create_notice(
        session, ctx=ctx, staff=town.staff[StaffRole.operator], utility=utility, kind=kind,
        reason_zh="管网抢修", reason_en="Emergency pipe repair", area=area, starts_at=starts_at,
        restore_at=starts_at + timedelta(hours=5))
    await outages.announce(session, ctx=ctx, outage=outage, staff=town.staff[StaffRole.operator])
    return outage


def _buttons(message) -> list[tuple[str, str]]:
    markup = message.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]


async def test_menu_shows_current_and_upcoming_outages_in_the_residents_language(dp, bot, ctx, session, clock):
    town = await build_town(session, clock.now())
    await _announce(session, ctx, town, kind=OutageKind.emergency, starts_at=clock.now() - timedelta(hours=1),
                    area={"streets": [{"district": "城东区", "street": "人民路"}]})
    await _announce(session, ctx, town, kind=OutageKind.planned,
                    starts_at=datetime(2026, 12, 3, 9, 0, tzinfo=LOCAL_TZ), area={"districts": ["城东区"]},
                    utility=Utility.power)
    await _announce(session, ctx, town, kind=OutageKind.emergency, starts_at=clock.now(),
                    area={"districts": ["城西区"]})

    await dp.feed_update(bot, updates.text(ctx.translator.gettext("zh_Hans", "⚡ Outages"), user_id=1))
    texts = bot.texts()
    assert any("紧急停水" in t and "目前正在停供" in t and "管网抢修" in t for t in texts)
    assert any("计划停电" in t and "12月3日" in t for t in texts)
    assert not any("城西区" in t for t in texts)  # not at this resident's addresses
    assert "正在停供 1 项，计划停供 1 项" in texts[-1]

    bot.clear()
    await dp.feed_update(bot, updates.text("⚡ Outages", user_id=2, first_name="Amy"))
    texts = bot.texts()
    # Resident 2 (en) lives on 东风街: the 人民路 emergency does not concern them, the district-wide plan does.
    assert not any("Emergency water outage" in t for t in texts)
    assert any("Planned power outage" in t and "Emergency pipe repair" in t for t in texts)


async def test_no_outage_and_no_address(dp, bot, ctx, session, clock):
    await build_town(session, clock.now())
    await dp.feed_update(bot, updates.text("⚡ Outages", user_id=2))
    assert "no current or planned outage" in bot.texts()[-1]
    bot.clear()
    session.add(__import__("db.models", fromlist=["Resident"]).Resident(
        id=77, first_name="n", language="en", guided_mode=False, blocked=False, link_failures=0, misses=0,
        created_at=clock.now()))
    await session.commit()
    await dp.feed_update(bot, updates.text("⚡ Outages", user_id=77))
    last = bot.sent()[-1]
    assert "do not know your address" in last.text
    assert any("district" in text for text, _ in _buttons(last))


async def test_subscribe_and_unsubscribe_a_district(dp, bot, ctx, session, clock):
    await build_town(session, clock.now())
    await dp.feed_update(bot, updates.callback(OutageCallback(action=OutageAction.districts).pack(), user_id=2))
    listing = bot.sent()[-1]
    buttons = _buttons(listing)
    assert [t for t, _ in buttons] == ["▫️ 城东区", "▫️ 城南区", "▫️ 城西区", "✅ Done"]  # districts with accounts
    south = next(data for text, data in buttons if "城南区" in text)
    await dp.feed_update(bot, updates.callback(south, user_id=2))
    assert await outages.subscriptions(session, 2) == ["城南区"]
    edited = bot.requests[-1]
    assert "✅ 城南区" in [b.text for row in edited.reply_markup.inline_keyboard for b in row]
    await dp.feed_update(bot, updates.callback(south, user_id=2, message_id=2))  # not a double tap: a new list
    assert await outages.subscriptions(session, 2) == []
    await dp.feed_update(bot, updates.callback(OutageCallback(action=OutageAction.done).pack(), user_id=2))
    assert "not subscribed" in bot.texts()[-1]


async def test_forged_or_stale_district_button_changes_nothing(dp, bot, ctx, session, clock):
    await build_town(session, clock.now())
    for data in (OutageCallback(action=OutageAction.toggle, i=99, h="abcdef").pack(),
                 OutageCallback(action=OutageAction.toggle, i=0, h="000000").pack()):
        bot.clear()
        await dp.feed_update(bot, updates.callback(data, user_id=2))
        assert await outages.subscriptions(session, 2) == []
        answers = [r for r in bot.requests if type(r).__name__ == "AnswerCallbackQuery"]
        assert answers and "out of date" in answers[0].text
    bot.clear()
    await dp.feed_update(bot, updates.callback("outg:t:zz:zz", user_id=2))  # not even parseable
    assert await outages.subscriptions(session, 2) == []


async def test_free_text_from_inside_an_active_outage_gets_the_notice_and_files_nothing(dp, bot, ctx, session, clock):
    from sqlalchemy import func, select

    from db.enums import QuestionOutcome
    from db.models import QuestionLog, Ticket

    town = await build_town(session, clock.now())
    await _announce(session, ctx, town, kind=OutageKind.emergency, starts_at=clock.now() - timedelta(hours=3),
                    area={"districts": ["城东区"]}, utility=Utility.power)
    await _announce(session, ctx, town, kind=OutageKind.emergency, starts_at=clock.now() - timedelta(hours=1),
                    area={"districts": ["城东区"]}, utility=Utility.water)

    # Resident 2 (English, account on 东风街) in their own words: only the power notice, in English (R9).
    await dp.feed_update(bot, updates.text("no power since morning", user_id=2, first_name="Amy"))
    answer = "\n".join(bot.texts())
    assert "Emergency power outage" in answer and "Emergency pipe repair" in answer
    assert "Estimated restoration" in answer and "apologise" in answer
    assert "Emergency water outage" not in answer and "停" not in answer

    # Resident 4 has no account, only a 城东区 subscription: the water notice, in English.
    bot.clear()
    await dp.feed_update(bot, updates.text("why is there no water?", user_id=4, first_name="Bo"))
    answer = "\n".join(bot.texts())
    assert "Emergency water outage" in answer and "power" not in answer

    # Resident 1 (Chinese, 人民路 1): "为什么停水了" gets the water notice in Chinese.
    bot.clear()
    await dp.feed_update(bot, updates.text("为什么停水了", user_id=1))
    answer = "\n".join(bot.texts())
    assert "紧急停水" in answer and "管网抢修" in answer and "预计恢复" in answer and "歉意" in answer

    # Resident 3 lives in 城西区: the same question is not answered with a 城东区 notice.
    bot.clear()
    await dp.feed_update(bot, updates.text("为什么停水了", user_id=3))
    assert not any("管网抢修" in t for t in bot.texts())

    assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0  # R8
    outcomes = (await session.execute(select(QuestionLog.resident_id, QuestionLog.outcome)
                                      .order_by(QuestionLog.id))).all()
    assert [o for r, o in outcomes if r in (1, 2, 4)] == [QuestionOutcome.outage] * 3

"""📚 Guides & checklists: browsing by utility, answers with their buttons, actions into other features."""

from __future__ import annotations

import pytest
from aiogram.types import Message
from sqlalchemy import select

from bot.keyboards.guides import (
    GuideAct,
    GuideCallback,
    TopicActionCallback,
    topic_index,
    topic_keyboard,
)
from db.models import QuestionLog
from knowledge.models import Action, Utility
from tests import updates
from tests.support.knowledge_bot import buttons, last_markup, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


async def test_browse_utility_then_topic(dp, bot, session, ctx) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("📚 办事指南"))
    labels = [t for t, _d in buttons(last_markup(bot))]
    assert labels == ["🔥 燃气", "💧 供水", "⚡ 供电", "🏢 缴费、预约及其他服务"]

    await dp.feed_update(bot, updates.callback(GuideCallback(act=GuideAct.utility, u=Utility.water).pack()))
    edited = bot.sent("EditMessageText")[-1]
    water = [t.title.zh for t in ctx.catalogue.by_utility("water")]
    shown = [t for t, _d in buttons(edited.reply_markup)]
    assert shown[:-1] == water and shown[-1] == "⬅️ 全部指南"

    bot.clear()
    data = dict(buttons(edited.reply_markup))["阶梯水价标准"]
    await dp.feed_update(bot, updates.callback(data, message_id=3))
    assert "3.41" in "\n".join(bot.texts()), "R13 tier-1 price in the water tariff answer"

    bot.clear()
    await dp.feed_update(bot, updates.callback(GuideCallback(act=GuideAct.home).pack(), message_id=4))
    assert "办事指南" in bot.sent("EditMessageText")[-1].text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_topic_fits_telegram_limits(ctx, lang) -> None:
    """Every answer chunk fits a message and every button's data fits 64 bytes, for all topics."""
    from aiogram.utils.i18n import I18n

    from bot.app import build_i18n

    i18n: I18n = build_i18n(ctx)
    with i18n.use_locale("en" if lang == "en" else "zh_Hans"), i18n.context():
        for topic in ctx.catalogue:
            for chunk in ctx.catalogue.render(topic, lang):
                assert 0 < len(chunk) <= 4096, topic.slug
            markup = topic_keyboard(ctx.catalogue, topic, lang, question_id=2**31)
            for text, data in buttons(markup):
                assert len(data.encode()) <= 64, (topic.slug, data)
                assert len(text) <= 64, (topic.slug, text)
            for action in topic.actions:
                assert action in Action


async def test_unknown_or_forged_guide_buttons_are_refused(dp, bot, session, ctx) -> None:
    await make_resident(session)
    for i, data in enumerate(["gd:t::999", "gd:u::-1", "gd:x:gas:1", "ta:book_visit:999", "ta:fly:1"]):
        await dp.feed_update(bot, updates.callback(data, message_id=100 + i))
    answers = bot.sent("AnswerCallbackQuery")
    assert len(answers) == 5 and all(a.show_alert for a in answers)
    assert not bot.sent("SendMessage") and not bot.sent("EditMessageText")


async def test_action_enters_the_feature_that_owns_the_menu_entry(dp, bot, session, ctx, monkeypatch) -> None:
    """An action under an answer runs the owning feature's menu entry, as if pressed in the menu: the coroutine
    the feature registered for that entry is called directly (issue 16), with the update's data."""
    from bot import navigation
    from bot.routers import guides

    await make_resident(session)
    entry = "🧪 fake feature entry"
    monkeypatch.setitem(guides.ACTION_ENTRIES, Action.book_visit, entry)
    seen: list[int] = []

    async def on_entry(message: Message, resident) -> None:
        seen.append(message.chat.id)
        await message.answer(f"feature started for {resident.id}")

    monkeypatch.setitem(navigation.MENU_ENTRIES, entry, on_entry)
    state = dp.fsm.get_context(bot, chat_id=10001, user_id=10001)
    await state.set_state("SomeOtherForm:step")
    t = topic_index(ctx.catalogue, "gas.transfer")
    await dp.feed_update(bot, updates.callback(TopicActionCallback(action=Action.book_visit, t=t).pack()))
    assert seen == [10001]
    assert bot.sent()[-1].text == "feature started for 10001"
    assert bot.sent()[-1].chat_id == 10001
    assert await state.get_state() is None, "entering a menu entry leaves any form"


async def test_action_without_its_feature_gives_a_menu_hint(dp, bot, session, ctx, monkeypatch) -> None:
    from bot.routers import guides

    await make_resident(session)
    monkeypatch.setitem(guides.ACTION_ENTRIES, Action.report_fault, "🧪 entry nobody handles")
    t = topic_index(ctx.catalogue, "power.fault")
    await dp.feed_update(bot, updates.callback(TopicActionCallback(action=Action.report_fault, t=t).pack()))
    assert bot.sent()[-1].text == "请点击下方菜单中的“🧪 entry nobody handles”。"


async def test_real_feature_entries_are_never_taken_as_questions(dp, bot, session, ctx) -> None:
    await make_resident(session, language="en")
    t = topic_index(ctx.catalogue, "gas.leak")
    for i, action in enumerate([Action.report_fault, Action.outages, Action.show_balance, Action.book_visit]):
        await dp.feed_update(bot, updates.callback(TopicActionCallback(action=action, t=t).pack(), message_id=i))
    assert bot.texts()
    assert not any("could not find an answer" in x or "Sorry, I did not understand" in x for x in bot.texts())
    session.expire_all()
    assert (await session.execute(select(QuestionLog))).first() is None

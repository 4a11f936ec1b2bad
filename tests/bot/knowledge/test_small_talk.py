"""Small talk ("谢谢", "good morning", "你是机器人吗") is answered in kind, through the real Dispatcher and matcher:
never a choice of topics, never "I did not understand", no question logged and no miss counted (issue 14)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.enums import QuestionOutcome
from db.models import QuestionLog, Resident
from tests import updates
from tests.support.knowledge_bot import buttons, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


async def _logged(session) -> list[QuestionOutcome]:
    session.expire_all()
    return list((await session.execute(select(QuestionLog.outcome).order_by(QuestionLog.id))).scalars())


async def test_thanks_is_answered_in_kind_and_is_no_miss(dp, bot, session) -> None:
    await make_resident(session)
    for _ in range(3):
        await dp.feed_update(bot, updates.text("谢谢！"))
    replies = bot.sent("SendMessage")
    assert [m.text for m in replies] == ["不客气！还有其他问题，随时问我。"] * 3
    assert not any("没有看懂" in m.text or "人工" in m.text for m in replies)
    assert any(d.startswith("gd:u:") for _t, d in buttons(replies[-1].reply_markup)), "the guide menu comes with it"
    session.expire_all()
    assert (await session.get(Resident, 10001)).misses == 0
    assert await _logged(session) == []


async def test_a_greeting_gets_no_topics_to_choose_from(dp, bot, session) -> None:
    # "good morning" used to be offered gas account closure.
    await make_resident(session, language="en")
    await dp.feed_update(bot, updates.text("Good morning!"))
    reply = bot.sent("SendMessage")[-1]
    assert reply.text.startswith("Hello! Ask me in a few words")
    assert not any(d.startswith("aq:") for _t, d in buttons(reply.reply_markup))


async def test_are_you_a_bot_offers_a_person(dp, bot, session) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("你是机器人吗"))
    reply = bot.sent("SendMessage")[-1]
    assert "智能服务助手" in reply.text
    assert any(d.startswith("esc:p:") for _t, d in buttons(reply.reply_markup))


async def test_a_question_that_starts_politely_is_still_a_question(dp, bot, session) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("您好，燃气过户要带什么材料？谢谢"))
    assert await _logged(session) == [QuestionOutcome.answered]
    assert "不客气" not in "\n".join(bot.texts())


async def test_small_talk_between_two_misses_does_not_hide_them(dp, bot, session) -> None:
    await make_resident(session)
    for text in ("今天股票涨了吗", "好的", "我家猫不吃饭"):
        await dp.feed_update(bot, updates.text(text))
    offer = bot.sent("SendMessage")[-1]
    assert any(d.startswith("esc:p:") for _t, d in buttons(offer.reply_markup)), "two misses still offer a person"
    assert await _logged(session) == [QuestionOutcome.no_match] * 2


async def test_simple_mode_answers_small_talk_too(dp, bot, session) -> None:
    await make_resident(session, guided=True)
    await dp.feed_update(bot, updates.text("谢谢"))
    await dp.feed_update(bot, updates.text("谢谢"))
    texts = bot.texts()
    assert texts.count("不客气！还有其他问题，随时问我。") == 2
    assert not any("没听懂" in t for t in texts)
    assert await session.scalar(select(func.count()).select_from(QuestionLog)) == 0

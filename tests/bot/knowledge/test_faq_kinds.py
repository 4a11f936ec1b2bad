"""Issue 14: questions as residents write them, through the real Dispatcher and the real matcher.

Every kind ends in the right answer or in a choice that contains the right topic — never in
"I did not understand" — and the question log records which.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.enums import QuestionOutcome
from db.models import QuestionLog
from tests import updates
from tests.support.knowledge_bot import buttons, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")

KINDS = [
    # long, rambling: the request is one clause of a story
    ("rambling", "我家老头子去年走了，房子现在是我儿子的名字，我年纪大了也不会弄手机，想问问燃气户名怎么改成我儿子的",
     "gas.transfer"),
    # 2-5 characters
    ("terse", "水管爆了", "water.leak-report"),
    ("terse", "补卡", "gas.ic-card-replace"),
    # homophones / pinyin-input slips
    ("homophone", "燃气灶报秀", "gas.appliance-repair"),
    ("homophone", "交水飞", "general.payment-methods"),
    ("homophone", "热水器维秀", "gas.appliance-repair"),
    # traditional characters
    ("traditional", "燃氣卡遺失補辦", "gas.ic-card-replace"),
    # mixed Chinese-English
    ("mixed", "买了二手房 gas account 改名字", "gas.transfer"),
    # numbers with units
    ("numbers", "预存500元可以吗", "general.prepayment"),  # (volumes per year go to the calculator first)
    ("numbers", "price per m3 of water", "water.tariff"),
    # English typos and abbreviations
    ("english_typo", "pls wtr meter runs too fast can u test it asap thx", "water.meter-check"),
    ("english_typo", "lost my gas card, need a new one asap", "gas.ic-card-replace"),
]


async def _log(session) -> QuestionLog:
    session.expire_all()
    return (await session.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()


@pytest.mark.parametrize(("kind", "question", "slug"), KINDS, ids=[f"{k}-{i}" for i, (k, _q, _s) in enumerate(KINDS)])
async def test_each_kind_gets_the_answer_or_a_choice_with_it(dp, bot, session, ctx, kind, question, slug) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text(question))
    log = await _log(session)
    assert log is not None and log.text == question
    offered = [a["topic"] for a in log.alternatives]
    if log.outcome is QuestionOutcome.answered:
        assert log.topic == slug, (kind, log.topic)
    else:
        assert log.outcome is QuestionOutcome.ambiguous, (kind, log.outcome)
        assert slug in offered and 2 <= len(offered) <= 3
        labels = [t for t, d in buttons(bot.sent()[-1].reply_markup) if d.startswith("aq:")]
        assert ctx.catalogue[slug].title.zh in labels
    assert "没有看懂" not in "\n".join(bot.texts())


async def test_off_topic_gets_not_understood_with_the_guide_menu(dp, bot, session) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("讲个笑话"))
    reply = bot.sent()[-1]
    assert "没有看懂" in reply.text
    assert any(d.startswith("gd:u:") for _t, d in buttons(reply.reply_markup))
    assert (await _log(session)).outcome is QuestionOutcome.no_match


async def test_none_of_these_asks_again_and_offers_a_person(dp, bot, session, ctx) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("过户"))  # gas or water: always a choice
    offer = bot.sent()[-1]
    none = next(d for _t, d in buttons(offer.reply_markup) if d.startswith("an:"))
    bot.clear()
    await dp.feed_update(bot, updates.callback(none))
    reply = bot.sent("SendMessage")[-1]
    assert "换个说法" in reply.text
    assert any(d.startswith("esc:p:") for _t, d in buttons(reply.reply_markup))
    assert (await _log(session)).outcome is QuestionOutcome.none_of_these
    # Someone else's "none of these" changes nothing.
    await make_resident(session, user_id=20002, first_name="Other")
    bot.clear()
    await dp.feed_update(bot, updates.callback(none, user_id=20002))
    assert bot.sent("AnswerCallbackQuery")[-1].show_alert


async def test_another_services_card_is_not_answered_with_the_gas_card_checklist(dp, bot, session, ctx) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("社保卡丢了怎么补办"))
    log = await _log(session)
    assert log.outcome is QuestionOutcome.ambiguous  # a choice, with "none of these" and a person
    reply = bot.sent()[-1]
    assert any(d.startswith("an:") for _t, d in buttons(reply.reply_markup))
    assert ctx.catalogue["gas.ic-card-replace"].title.zh not in reply.text.split("\n")[0]


async def test_not_what_i_asked_offers_the_runner_ups_and_records_the_pick(dp, bot, session, ctx) -> None:
    """A confident answer can still be wrong: "not what I asked" under it offers the matcher's
    runner-ups (never the answer again), and the question log keeps what the resident did."""
    await make_resident(session)
    await dp.feed_update(bot, updates.text("燃气怎么过户"))
    log = await _log(session)
    assert log.outcome is QuestionOutcome.answered and log.topic == "gas.transfer"
    runner_ups = [a["topic"] for a in log.alternatives if a["topic"] != "gas.transfer"]
    assert runner_ups
    not_this = next(d for _t, d in buttons(bot.sent()[-1].reply_markup) if d.startswith("ax:"))

    # Someone else's tap changes nothing.
    await make_resident(session, user_id=20002, first_name="Other")
    bot.clear()
    await dp.feed_update(bot, updates.callback(not_this, user_id=20002))
    assert bot.sent("AnswerCallbackQuery")[-1].show_alert
    assert (await _log(session)).outcome is QuestionOutcome.answered

    bot.clear()
    await dp.feed_update(bot, updates.callback(not_this))
    offer = bot.sent("SendMessage")[-1]
    assert "是下面哪一个" in offer.text
    offered = [t for t, d in buttons(offer.reply_markup) if d.startswith("aq:")]
    assert ctx.catalogue["gas.transfer"].title.zh not in offered
    assert offered == [ctx.catalogue[s].title.zh for s in runner_ups][:len(offered)] and offered
    assert any(d.startswith("an:") for _t, d in buttons(offer.reply_markup))
    assert (await _log(session)).outcome is QuestionOutcome.not_this

    # Picking a runner-up records it.
    pick = next(d for _t, d in buttons(offer.reply_markup) if d.startswith("aq:"))
    await dp.feed_update(bot, updates.callback(pick))
    log = await _log(session)
    assert (log.outcome, log.topic) == (QuestionOutcome.chose, runner_ups[0])


async def test_not_what_i_asked_only_follows_a_confident_answer(dp, bot, session) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("过户"))  # a choice, not an answer
    log = await _log(session)
    assert log.outcome is QuestionOutcome.ambiguous
    bot.clear()
    await dp.feed_update(bot, updates.callback(f"ax:{log.id}"))  # forged
    assert bot.sent("AnswerCallbackQuery")[-1].show_alert
    assert (await _log(session)).outcome is QuestionOutcome.ambiguous

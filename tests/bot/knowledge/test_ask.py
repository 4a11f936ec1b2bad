"""Free text -> matcher: answer / ambiguous / no match, two misses, escalation, outages (R9), the question log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.types import ReplyKeyboardMarkup
from sqlalchemy import select

from bot.keyboards.guides import AskChoiceCallback, Escalate, EscalateCallback, topic_index
from db.enums import (
    ConversationStatus,
    OutageKind,
    OutageStatus,
    QuestionOutcome,
    TicketKind,
    Utility,
)
from db.models import AccountLink, Conversation, OutageNotice, QuestionLog, Resident, Ticket, UtilityAccount
from knowledge.matcher import MatchResult
from tests import updates
from tests.support.context import NOW
from tests.support.knowledge_bot import button_data, buttons, last_markup, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


class FakeMatcher:
    """Answers chosen per text, so the bot's handling of each outcome is tested apart from tuning."""

    def __init__(self, results: dict[str, MatchResult]) -> None:
        self.results = results
        self.calls: list[str] = []

    def match(self, text: str, lang: str | None = None) -> MatchResult:
        self.calls.append(text)
        return self.results.get(text, MatchResult("off_topic", None, 3.0, []))


AMBIGUOUS = MatchResult("choice", "gas.transfer", 50.0,
                        [("gas.transfer", 50.0), ("water.transfer", 48.0), ("gas.close-account", 40.0)])


@pytest.fixture
def fake(ctx) -> FakeMatcher:
    matcher = FakeMatcher({"过户": AMBIGUOUS})
    ctx.__dict__["matcher"] = matcher
    return matcher


async def _logs(session) -> list[QuestionLog]:
    session.expire_all()
    return list((await session.execute(select(QuestionLog).order_by(QuestionLog.id))).scalars())


async def test_confident_answer_with_actions_and_a_cleared_miss_counter(dp, bot, session, ctx) -> None:
    resident = await make_resident(session)
    resident.misses = 1
    await session.commit()
    await dp.feed_update(bot, updates.text("燃气过户要带什么材料"))
    assert "新业主有效身份证原件" in "\n".join(bot.texts())
    labels = [t for t, _d in buttons(last_markup(bot))]
    assert "📅 预约上门" in labels and "👩‍💼 人工服务" in labels and "✅ 逐项核对材料" in labels
    session.expire_all()
    assert (await session.get(Resident, 10001)).misses == 0
    [log] = await _logs(session)
    assert log.outcome is QuestionOutcome.answered and log.score > 0


async def test_long_answer_is_split_and_buttons_go_under_the_last_message(dp, bot, session, ctx) -> None:
    await make_resident(session, language="en")
    chunks = ctx.catalogue.render("gas.ignition", "en")
    assert len(chunks) > 1, "pick a topic whose answer needs several messages"
    await dp.feed_update(bot, updates.text("first gas ignition for a new home"))
    sent = bot.sent()
    assert [m.text for m in sent] == chunks
    assert all(len(m.text) <= 4096 for m in sent)
    assert all(m.reply_markup is None for m in sent[:-1]) and sent[-1].reply_markup is not None


async def test_ambiguous_question_offers_topics_and_choosing_logs_chose(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("过户"))
    offer = bot.sent()[-1]
    assert "下面其中一项" in offer.text
    choices = [(t, d) for t, d in buttons(offer.reply_markup) if d.startswith("aq:")]
    assert [t for t, _d in choices] == ["燃气过户", "水表过户", "燃气销户"]
    assert any(d.startswith("an:") for _t, d in buttons(offer.reply_markup)), "none of these (issue 14)"
    [log] = await _logs(session)
    assert log.outcome is QuestionOutcome.ambiguous and log.topic is None
    assert [a["topic"] for a in log.alternatives] == ["gas.transfer", "water.transfer", "gas.close-account"]

    bot.clear()
    await dp.feed_update(bot, updates.callback(choices[1][1]))
    assert "水表过户" in bot.texts()[0]
    [log] = await _logs(session)
    assert (log.outcome, log.topic) == (QuestionOutcome.chose, "water.transfer")


async def test_forged_choices_change_nothing(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await make_resident(session, user_id=20002, first_name="Other")
    await dp.feed_update(bot, updates.text("过户"))
    [log] = await _logs(session)
    bot.clear()
    not_offered = AskChoiceCallback(q=log.id, t=topic_index(ctx.catalogue, "power.fault")).pack()
    someone_elses = AskChoiceCallback(q=log.id, t=topic_index(ctx.catalogue, "gas.transfer")).pack()
    unknown = AskChoiceCallback(q=99999, t=0).pack()
    await dp.feed_update(bot, updates.callback(not_offered, message_id=1))
    await dp.feed_update(bot, updates.callback(someone_elses, user_id=20002, message_id=2))
    await dp.feed_update(bot, updates.callback(unknown, message_id=3))
    await dp.feed_update(bot, updates.callback("aq:abc:def", message_id=4))
    assert len(bot.sent("AnswerCallbackQuery")) == 4
    assert all(a.show_alert for a in bot.sent("AnswerCallbackQuery"))
    assert not bot.sent("SendMessage")
    [log] = await _logs(session)
    assert log.outcome is QuestionOutcome.ambiguous and log.topic is None


async def test_two_misses_offer_a_person_a_callback_and_simple_mode(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("今天股票涨了吗"))
    first = bot.sent()[-1]
    assert "没有看懂" in first.text
    # Off-topic is no dead end either: the guide menu comes with it (issue 14).
    assert any(d.startswith("gd:u:") for _t, d in buttons(first.reply_markup))
    bot.clear()
    await dp.feed_update(bot, updates.text("我家猫不吃饭"))
    offer = bot.sent()[-1]
    data = [d for _t, d in buttons(offer.reply_markup)]
    assert any(d.startswith("esc:p:") for d in data) and any(d.startswith("esc:c:") for d in data)
    assert "gofr:on" in data, "simple mode is offered again after two misses (issue 8)"
    session.expire_all()
    assert (await session.get(Resident, 10001)).misses == 2
    assert [log.outcome for log in await _logs(session)] == [QuestionOutcome.no_match] * 2


async def test_guided_resident_is_not_offered_simple_mode_again(dp, bot, session, ctx, fake) -> None:
    # Simple mode (issue 8) takes a guided resident's typed text first; it still asks the
    # matcher, logs both misses for the unanswered-questions report and offers a person,
    # never "turn on simple mode" again.
    await make_resident(session, guided=True)
    await dp.feed_update(bot, updates.text("一"))
    await dp.feed_update(bot, updates.text("二"))
    assert fake.calls == ["一", "二"]
    sent = bot.sent("SendMessage")
    data = [d for m in sent for _t, d in buttons(m.reply_markup)]
    assert "gofr:on" not in data
    assert [log.outcome for log in await _logs(session)] == [QuestionOutcome.no_match] * 2
    # after the second miss: a person, with a call back one tap away (the phone-number button)
    last = sent[-1].reply_markup
    assert isinstance(last, ReplyKeyboardMarkup) and len(sent) >= 3
    assert any(b.request_contact for row in last.keyboard for b in row)


async def test_talk_to_a_person_after_misses_queues_the_chat_with_the_question(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("一"))
    await dp.feed_update(bot, updates.text("我家猫不吃饭"))
    person = button_data(bot, "esc:p:")
    bot.clear()
    await dp.feed_update(bot, updates.callback(person))
    conv = (await session.execute(select(Conversation))).scalar_one()
    assert conv.status is ConversationStatus.queued and conv.reason == "not_understood"
    assert conv.context["last_exchange"]["question"] == "我家猫不吃饭"
    assert bot.sent(), "the resident is told what happens next"
    logs = await _logs(session)
    assert [log.outcome for log in logs] == [QuestionOutcome.no_match, QuestionOutcome.handed_off]


async def test_call_me_back_asks_for_a_phone_and_opens_an_r10_ticket(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("一"))
    await dp.feed_update(bot, updates.text("我家猫不吃饭"))
    callback = button_data(bot, "esc:c:")
    bot.clear()
    await dp.feed_update(bot, updates.callback(callback))
    prompt = bot.sent()[-1]
    assert isinstance(prompt.reply_markup, ReplyKeyboardMarkup)
    assert any(b.request_contact for row in prompt.reply_markup.keyboard for b in row)

    # Bad input keeps the form and changes nothing; someone else's contact card is refused (R15).
    await dp.feed_update(bot, updates.text("abc123"))
    assert "不是电话号码" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.contact("13900000009", contact_user_id=555))
    assert "本人" in bot.sent()[-1].text
    assert (await session.execute(select(Ticket))).first() is None

    await dp.feed_update(bot, updates.text("138-0000-0001"))
    ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.kind is TicketKind.callback and ticket.contact_phone == "13800000001"
    assert ticket.deadline_at - NOW == timedelta(hours=24), "R10: within 24 hours"
    assert "我家猫不吃饭" in ticket.description
    assert ticket.number in bot.sent()[-1].text
    assert isinstance(bot.sent()[-1].reply_markup, ReplyKeyboardMarkup), "main menu is back"
    assert [log.outcome for log in await _logs(session)][-1] is QuestionOutcome.handed_off
    state = dp.fsm.get_context(bot, chat_id=10001, user_id=10001)
    assert await state.get_state() is None


async def test_call_me_back_from_an_answer_with_own_contact_card(dp, bot, session, ctx) -> None:
    await make_resident(session)
    t = topic_index(ctx.catalogue, "gas.transfer")
    await dp.feed_update(bot, updates.callback(EscalateCallback(what=Escalate.callback, t=t).pack()))
    await dp.feed_update(bot, updates.contact("+86 138 0000 0001"))
    ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.contact_phone == "13800000001" and "gas.transfer" in ticket.description


async def test_call_me_back_answer_in_chat_without_a_phone(dp, bot, session, ctx) -> None:
    await make_resident(session, language="en")
    await dp.feed_update(bot, updates.callback(EscalateCallback(what=Escalate.callback).pack()))
    await dp.feed_update(bot, updates.text("💬 Answer me here in the chat"))
    ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.contact_phone is None
    assert "answer you here in the chat" in bot.sent()[-1].text


async def test_forged_escalation_for_someone_elses_question_changes_nothing(dp, bot, session, ctx, fake) -> None:
    await make_resident(session)
    await make_resident(session, user_id=20002, first_name="Other")
    await dp.feed_update(bot, updates.text("一", user_id=20002))
    [log] = await _logs(session)
    bot.clear()
    await dp.feed_update(bot, updates.callback(EscalateCallback(what=Escalate.person, q=log.id).pack()))
    await dp.feed_update(bot, updates.callback(EscalateCallback(what=Escalate.callback, q=log.id).pack(),
                                               message_id=9))
    assert all(a.show_alert for a in bot.sent("AnswerCallbackQuery"))
    assert (await session.execute(select(Conversation))).first() is None
    assert await dp.fsm.get_context(bot, chat_id=10001, user_id=10001).get_state() is None
    assert (await _logs(session))[0].outcome is QuestionOutcome.no_match


async def _linked_resident_with_water_outage(session, ctx) -> OutageNotice:
    from core.demo import load_demo

    await load_demo(session, now=NOW)
    resident = await session.get(Resident, 10001)
    resident.language = "zh_Hans"
    water = (await session.execute(
        select(UtilityAccount).join(AccountLink, AccountLink.account_id == UtilityAccount.id)
        .where(AccountLink.resident_id == 10001, UtilityAccount.utility == Utility.water)
    )).scalars().first()
    outage = OutageNotice(
        number="TS-20261123-0001", utility=Utility.water, kind=OutageKind.emergency, status=OutageStatus.announced,
        reason_zh="主管道爆裂抢修", reason_en="Burst main being repaired", area={"districts": [water.district]},
        starts_at=NOW - timedelta(hours=2), restore_at=NOW + timedelta(hours=4), created_at=NOW - timedelta(hours=2),
        announced_at=NOW - timedelta(hours=2),
    )
    session.add(outage)
    await session.commit()
    return outage


async def test_question_during_an_outage_gets_the_notice_r9(dp, bot, session, ctx) -> None:
    outage = await _linked_resident_with_water_outage(session, ctx)
    await dp.feed_update(bot, updates.text("为什么停水了？"))
    reply = bot.sent()[-1].text
    assert outage.number in reply and "主管道爆裂抢修" in reply
    assert "歉" in reply or "apologise" in reply
    [log] = await _logs(session)
    assert log.outcome is QuestionOutcome.outage
    # A question about another utility, or not about supply, goes to the matcher as usual.
    bot.clear()
    await dp.feed_update(bot, updates.text("为什么停电了"))
    await dp.feed_update(bot, updates.text("二手房燃气怎么过户"))
    logs = await _logs(session)
    assert logs[1].outcome is not QuestionOutcome.outage
    assert (logs[2].outcome, logs[2].topic) == (QuestionOutcome.answered, "gas.transfer")


async def test_gas_leak_is_never_answered_with_an_outage(dp, bot, session, ctx) -> None:
    outage = await _linked_resident_with_water_outage(session, ctx)
    outage.utility = Utility.gas
    await session.commit()
    await dp.feed_update(bot, updates.text("家里有煤气味，没气了"))
    [log] = await _logs(session)
    assert log.outcome is not QuestionOutcome.outage


async def test_menu_texts_commands_and_forms_are_not_questions(dp, bot, session, ctx, fake) -> None:
    from aiogram.fsm.state import State, StatesGroup

    class Form(StatesGroup):
        step = State()

    await make_resident(session)
    await dp.feed_update(bot, updates.text("📋 我的工单"))
    await dp.feed_update(bot, updates.text("/unknowncommand"))
    state = dp.fsm.get_context(bot, chat_id=10001, user_id=10001)
    await state.set_state(Form.step)
    await dp.feed_update(bot, updates.text("燃气过户"))
    assert fake.calls == []
    assert await _logs(session) == []


async def test_huge_message_is_logged_bounded_and_answered_politely(dp, bot, session, ctx) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text("停" + "啊" * 20000))
    assert bot.sent() and all(len(m.text) <= 4096 for m in bot.sent())
    [log] = await _logs(session)
    assert len(log.text) == 4096


async def test_bot_start_up_loads_and_indexes_the_topics(dp, bot, ctx) -> None:
    import gc

    del ctx.__dict__["catalogue"], ctx.__dict__["matcher"]  # as in a fresh process
    try:
        await dp.emit_startup(bot=bot, **dp.workflow_data)  # as start_polling does
        assert len(ctx.__dict__["matcher"].slugs) == len(ctx.__dict__["catalogue"]) >= 32
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_a_broken_topic_file_stops_the_bot_at_start_up_naming_file_and_field(dp, bot, ctx, tmp_path) -> None:
    import shutil

    from core.settings import ROOT
    from knowledge import TopicError

    shutil.copytree(ROOT / "knowledge" / "topics", tmp_path / "topics")
    shutil.copy(ROOT / "knowledge" / "site.yaml", tmp_path / "site.yaml")
    path = tmp_path / "topics" / "gas.transfer.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  not_accepted:", "  not_acepted:", 1), encoding="utf-8")
    ctx.settings = ctx.settings.model_copy(update={"knowledge_dir": tmp_path})
    del ctx.__dict__["catalogue"], ctx.__dict__["matcher"]
    with pytest.raises(TopicError) as info:
        await dp.emit_startup(bot=bot, **dp.workflow_data)  # as start_polling does
    assert "gas.transfer.yaml: notice.not_acepted" in str(info.value)
    assert "gas.transfer.yaml: notice.not_accepted: field required" in str(info.value)

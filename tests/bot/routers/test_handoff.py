"""Talk to a person through the dispatcher: queue, relay, voice notes, off-hours (R10), end chat, R4 survey."""

from __future__ import annotations

import types
from datetime import datetime

import pytest
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select

from bot.routers.handoff import HandoffAction, HandoffCallback
from core import handoff, staff
from core.clock import LOCAL_TZ
from db.enums import ConversationStatus, MessageDirection, StaffRole, TicketKind
from db.models import Conversation, ConversationMessage, OutboxNotification, Resident, Survey
from tests import updates

OTHER = 10002


async def _resident(session, ctx, user_id=updates.RESIDENT, language="en", guided=False) -> Resident:
    r = Resident(id=user_id, first_name="Wang", language=language, guided_mode=guided, blocked=False,
                 link_failures=0, misses=0, created_at=ctx.clock.now())
    session.add(r)
    await session.commit()
    return r


async def _agent(session, ctx, name="agent1"):
    user = await staff.create_staff(session, username=name, display_name=f"Agent {name}", role=StaffRole.agent,
                                    password="pw-" + name, now=ctx.clock.now())
    await session.commit()
    return user


async def _conversations(session) -> list[Conversation]:
    session.expire_all()
    return list((await session.execute(select(Conversation).order_by(Conversation.id))).scalars())


def _buttons(message) -> list[str]:
    markup = message.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    return [b.callback_data for row in markup.inline_keyboard for b in row]


@pytest.fixture
def fake_tickets(monkeypatch):
    """core.tickets is the requests engineer's module; stand in for its create_ticket contract."""
    created = []

    async def create_ticket(session, *, ctx, kind, resident, subject, description="", utility=None, category=None,
                            priority=None, idempotency_key=None, **fields):
        t = types.SimpleNamespace(id=len(created) + 1, number=f"CB-20261123-{len(created) + 1:04d}", kind=kind,
                                  resident_id=resident.id, subject=subject, idempotency_key=idempotency_key)
        created.append(t)
        await session.commit()
        return t

    monkeypatch.setattr("core.tickets.create_ticket", create_ticket)  # core.handoff calls tickets.create_ticket
    return created


async def test_menu_button_queues_the_resident_once(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    [conv] = await _conversations(session)
    assert conv.status == ConversationStatus.queued and conv.reason == "button" and conv.language == "en"
    reply = bot.sent()[-1]
    assert "queue to talk to a person (number 1)" in reply.text
    assert _buttons(reply) == [handoff.end_chat_data(conv.id)]
    assert set(conv.context) >= {"language", "accounts", "open_tickets", "notices", "questions"}

    bot.clear()
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    assert len(await _conversations(session)) == 1, "a second tap must not queue twice"
    assert "already waiting for a colleague (number 1" in bot.sent()[-1].text


async def test_chinese_resident_gets_chinese_texts(dp, bot, session, ctx) -> None:
    await _resident(session, ctx, language="zh_Hans")
    await dp.feed_update(bot, updates.text("👩‍💼 人工服务"))
    assert "人工客服" in bot.sent()[-1].text and "第 1 位" in bot.sent()[-1].text


async def test_messages_are_relayed_while_waiting_and_first_is_acknowledged(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    async with ctx.live.subscribe() as events:
        bot.clear()
        await dp.feed_update(bot, updates.text("My gas meter shows an error E3"))
        assert "Saved" in bot.sent()[-1].text
        event = events.get_nowait()
        assert event["topic"] == "conversation" and event["action"] == "message"
        assert "text" not in event, "live events carry ids only"
        bot.clear()
        await dp.feed_update(bot, updates.text("It started yesterday"))
        assert bot.sent() == [], "later messages are relayed silently"
    [conv] = await _conversations(session)
    texts = (await session.execute(
        select(ConversationMessage.text).where(ConversationMessage.conversation_id == conv.id,
                                               ConversationMessage.direction == MessageDirection.inbound)
        .order_by(ConversationMessage.id))).scalars().all()
    assert texts == ["My gas meter shows an error E3", "It started yesterday"]


async def test_menu_buttons_and_commands_still_work_during_a_chat(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    bot.clear()
    await dp.feed_update(bot, updates.text("⚙️ Settings"))
    assert "Settings" in bot.sent()[-1].text
    await dp.feed_update(bot, updates.text("/help"))
    [conv] = await _conversations(session)
    n = await handoff.count_inbound(session, conv.id)
    assert n == 0, "menu buttons and commands are not passed to the agent"


async def test_unsupported_message_in_chat_gets_polite_answer(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    bot.clear()
    await dp.feed_update(bot, updates.sticker_like())
    assert "cannot be passed on" in bot.sent()[-1].text


async def test_voice_note_is_a_priority_handoff(dp, bot, session, ctx) -> None:
    await _resident(session, ctx, user_id=OTHER)
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person", user_id=OTHER))
    bot.clear()
    await dp.feed_update(bot, updates.voice())
    assert "voice messages" in bot.sent()[-1].text
    convs = await _conversations(session)
    voice_conv = next(c for c in convs if c.resident_id == updates.RESIDENT)
    assert voice_conv.reason == "voice" and voice_conv.priority == handoff.PRIORITY_VOICE
    assert await handoff.queue_position(session, voice_conv) == 1, "voice notes jump ahead of normal requests"
    msg = (await session.execute(select(ConversationMessage).where(
        ConversationMessage.conversation_id == voice_conv.id,
        ConversationMessage.direction == MessageDirection.inbound))).scalar_one()
    assert msg.content_type == "voice" and msg.file_id == "voice-file"


async def test_off_hours_opens_callback_ticket(dp, bot, session, ctx, clock, fake_tickets) -> None:
    clock.set(datetime(2026, 11, 23, 20, 15, tzinfo=LOCAL_TZ))  # Monday evening
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    [conv] = await _conversations(session)
    assert conv.status == ConversationStatus.queued and conv.context["off_hours"] is True
    [ticket] = fake_tickets
    assert ticket.kind == TicketKind.callback and ticket.resident_id == updates.RESIDENT
    assert conv.context["callback_ticket"] == ticket.number
    text = bot.sent()[-1].text
    assert "8:30 to 17:30" in text and "Tue 24 Nov, 08:30" in text and ticket.number in text


async def test_off_hours_on_friday_evening_points_to_monday(ctx) -> None:
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=LOCAL_TZ)
    assert not handoff.is_staffed(ctx, friday)
    assert handoff.next_staffed(ctx, friday) == datetime(2026, 11, 30, 8, 30, tzinfo=LOCAL_TZ)
    early = datetime(2026, 11, 24, 7, 0, tzinfo=LOCAL_TZ)
    assert handoff.next_staffed(ctx, early) == datetime(2026, 11, 24, 8, 30, tzinfo=LOCAL_TZ)
    # 2026-10-01 is National Day: closed although it is a Thursday.
    assert not handoff.is_staffed(ctx, datetime(2026, 10, 1, 10, 0, tzinfo=LOCAL_TZ))


async def test_resident_ends_chat_and_forged_end_changes_nothing(dp, bot, session, ctx) -> None:
    await _resident(session, ctx, user_id=OTHER)
    await _resident(session, ctx)
    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person", user_id=OTHER))
    [other_conv] = await _conversations(session)
    bot.clear()
    forged = HandoffCallback(action=HandoffAction.end, conv=other_conv.id).pack()
    await dp.feed_update(bot, updates.callback(forged))
    assert bot.sent("AnswerCallbackQuery")[-1].show_alert
    assert (await _conversations(session))[0].status == ConversationStatus.queued

    await dp.feed_update(bot, updates.text("👩‍💼 Talk to a person"))
    mine = (await _conversations(session))[-1]
    bot.clear()
    await dp.feed_update(bot, updates.callback(HandoffCallback(action=HandoffAction.end, conv=mine.id).pack(),
                                               message_id=55))
    assert any("chat has ended" in t for t in bot.texts())
    mine = (await _conversations(session))[-1]
    assert mine.status == ConversationStatus.closed
    no_survey = (await session.execute(select(Survey))).scalars().all()
    assert no_survey == [], "nobody served this chat, so there is nothing to rate"
    bot.clear()
    await dp.feed_update(bot, updates.text("hello?"))
    assert not any("Saved" in t for t in bot.texts()), "after the chat ends text goes back to the bot"


async def test_agent_close_sends_survey_and_resident_rates(dp, bot, session, ctx) -> None:
    resident = await _resident(session, ctx)
    agent = await _agent(session, ctx)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason="button")
    conv = await handoff.claim(session, ctx=ctx, conversation_id=conv.id, staff=agent)
    await handoff.reply(session, ctx=ctx, conversation=conv, staff=agent, text="Hello, how can I help?")
    await handoff.close(session, ctx=ctx, conversation=conv, staff=agent)
    rows = (await session.execute(select(OutboxNotification).order_by(OutboxNotification.id))).scalars().all()
    assert [r.kind for r in rows] == ["chat.joined", "chat.reply", "chat.closed", "survey"]
    assert "Agent agent1" in rows[0].payload["text"]
    assert rows[1].payload["text"].endswith("Hello, how can I help?")
    survey = (await session.execute(select(Survey))).scalar_one()
    assert survey.conversation_id == conv.id and survey.staff_id == agent.id and survey.category == "chat"
    buttons = [b["callback_data"] for row in rows[3].payload["reply_markup"]["inline_keyboard"] for b in row]
    assert len(buttons) == 10 and "service attitude" in rows[3].payload["text"]

    # Someone else's survey and out-of-range scores change nothing.
    await dp.feed_update(bot, updates.callback(buttons[2], user_id=OTHER))
    await dp.feed_update(bot, updates.callback(f"srv:{survey.id}:a:11"))
    await session.refresh(survey)
    assert survey.attitude is None

    # The answers are handled by the R4 survey feature (core.surveys, bot/routers/survey.py).
    bot.clear()
    await dp.feed_update(bot, updates.callback(buttons[7], message_id=90))  # attitude 8
    ask = bot.sent("EditMessageText")[-1]
    assert "Professional ability" in ask.text
    ability = _buttons(ask)
    await dp.feed_update(bot, updates.callback(ability[8], message_id=90))  # ability 9
    await session.refresh(survey)
    assert (survey.attitude, survey.ability) == (8, 9) and survey.answered_at is not None


def test_end_chat_callback_data_of_core_matches_router() -> None:
    assert handoff.end_chat_data(42) == HandoffCallback(action=HandoffAction.end, conv=42).pack()


def test_handoff_router_comes_right_after_settings() -> None:
    from bot.routers import get_routers, settings
    from bot.routers import handoff as handoff_router

    names = [r.name for r in get_routers()]
    assert names.index(handoff_router.router.name) == names.index(settings.router.name) + 1

"""Issue 13, "every update gets its answer": one test per item, all through the real Dispatcher."""

from __future__ import annotations

import itertools
import typing
from datetime import UTC, datetime

import pytest
from aiogram.filters import Command, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Message, Update
from sqlalchemy import func, select

from bot.app import build_dispatcher
from bot.keyboards.callback_int import CALLBACK_INT_MAX, CALLBACK_INT_MIN
from bot.middlewares.commands import KNOWN_COMMANDS
from bot.routers import get_routers, payments
from core import handoff
from core.demo import load_demo
from db.enums import ConversationStatus
from db.models import Conversation, ConversationMessage, Resident, Ticket
from tests import updates
from tests.mocked_bot import BOT_ID

_ids = itertools.count(700_000)
ME = 30001  # not one of the demo's residents
OTHER = 30002
ADDRESS = "城东区人民路12号3单元502"


@pytest.fixture
async def demo(ctx):
    """The demo utility (districts and streets the fault form knows); our residents are not in it."""
    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
    return ctx


async def _resident(session, ctx, user_id=ME) -> Resident:
    r = Resident(id=user_id, first_name="王建国", language="zh_Hans", guided_mode=False, blocked=False,
                 link_failures=0, misses=0, created_at=ctx.clock.now(), last_seen_at=ctx.clock.now())
    session.add(r)
    await session.commit()
    return r


def inaccessible(data: str, user_id: int = ME) -> Update:
    """A tap on a message older than 48 hours: Telegram sends date 0 and no content."""
    msg = InaccessibleMessage(chat=Chat(id=user_id, type="private"), message_id=next(_ids))
    q = CallbackQuery(id=str(next(_ids)), from_user=updates.user(user_id), chat_instance="ci", data=data,
                      message=msg)
    return Update(update_id=next(_ids), callback_query=q)


def text(value: str, user_id: int = ME) -> Update:
    return updates.text(value, user_id=user_id)


def callback(data: str, user_id: int = ME, message_id: int = 1) -> Update:
    return updates.callback(data, user_id=user_id, message_id=message_id)


def answers(bot) -> list:
    return bot.sent("AnswerCallbackQuery")


def last_buttons(bot) -> list[str]:
    for request in reversed(bot.requests):
        markup = getattr(request, "reply_markup", None)
        if markup is not None and hasattr(markup, "inline_keyboard"):
            return [b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data]
    return []


async def _tickets(session) -> int:
    return (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()


# --- inaccessible messages --------------------------------------------------------------------------------------

async def test_a_whole_fault_report_on_inaccessible_messages_is_filed(demo, dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, text("🛠 故障报修"))
    for update in (inaccessible("flt:u:water"), inaccessible("flt:c:water.water_leak"), text(ADDRESS),
                   inaccessible("flt:x:home"), text("厨房水管接头漏水，从早上开始"), inaccessible("rqn:f:s"),
                   text("13812345678")):
        await dp.feed_update(bot, update)
    [submit] = [d for d in last_buttons(bot) if d.startswith("flt:ok:")]
    bot.clear()
    await dp.feed_update(bot, inaccessible(submit))
    assert await _tickets(session) == 1
    assert len(answers(bot)) == 1 and bot.sent()  # the tap is answered and a fresh message is sent
    assert not bot.sent("EditMessageReplyMarkup") and not bot.sent("EditMessageText")


async def test_end_chat_on_an_inaccessible_message_ends_it_and_says_so(dp, bot, session, ctx) -> None:
    resident = await _resident(session, ctx)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.button)
    bot.clear()
    await dp.feed_update(bot, inaccessible(handoff.end_chat_data(conv.id)))
    assert len(answers(bot)) == 1
    assert any("结束" in t or "ended" in t for t in bot.texts()), bot.texts()
    status = (await session.execute(select(Conversation.status).where(Conversation.id == conv.id))).scalar_one()
    assert status == ConversationStatus.closed


async def test_an_edited_message_is_answered_and_changes_nothing(demo, dp, bot, session, ctx) -> None:
    """Telegram sends edits as their own updates; the resident is told an edit does not reach us."""
    await _resident(session, ctx)
    await dp.feed_update(bot, text("🛠 故障报修"))
    state_before = await dp.fsm.get_context(bot, ME, ME).get_state()
    bot.clear()
    edited = Update(update_id=next(_ids), edited_message=text("厨房漏水了").message)
    await dp.feed_update(bot, edited)
    assert len(bot.sent()) == 1 and "新消息" in bot.texts()[0], bot.texts()
    assert await dp.fsm.get_context(bot, ME, ME).get_state() == state_before  # the form stays where it was
    assert await _tickets(session) == 0
    assert "edited_message" in dp.resolve_used_update_types()  # so Telegram sends edits to us at all


# --- the flood limiter answers every tap ------------------------------------------------------------------------

async def test_throttled_taps_are_answered(ctx, bot, session) -> None:
    await _resident(session, ctx)
    ctx.settings.flood_burst, ctx.settings.flood_window = 3, 60.0
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    for n in range(8):
        await dp.feed_update(bot, callback(f"zz:stale:{n}", message_id=n + 1))
    got = answers(bot)
    assert len(got) == 8
    assert sum(1 for a in got if a.text and ("太快" in a.text or "fast" in a.text)) == 5


# --- precedence: payments, then the form, then the chat ---------------------------------------------------------

def test_router_order_decides_precedence() -> None:
    routers = [r.name for r in get_routers()]
    assert routers[0] == payments.router.name
    assert routers[-1] == "bot.routers.fallback"
    assert routers.index("bot.routers.handoff") < routers.index("bot.routers.fault")
    # Payments carry no state filter: they match in every state.
    for observer in (payments.router.message, payments.router.pre_checkout_query):
        for handler in observer.handlers:
            assert not any(type(f.callback).__name__ == "StateFilter" for f in handler.filters)


async def test_a_resident_in_a_chat_can_finish_the_form_they_opened(demo, dp, bot, session, ctx) -> None:
    resident = await _resident(session, ctx)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.button)
    relayed = select(func.count()).select_from(ConversationMessage).where(
        ConversationMessage.conversation_id == conv.id)
    before = (await session.execute(relayed)).scalar_one()
    await dp.feed_update(bot, text("🛠 故障报修"))
    for update in (callback("flt:u:water"), callback("flt:c:water.water_leak"), text(ADDRESS),
                   callback("flt:x:home"), text("厨房水管接头漏水"), callback("rqn:f:s"),
                   text("13812345678")):
        await dp.feed_update(bot, update)
    [submit] = [d for d in last_buttons(bot) if d.startswith("flt:ok:")]
    await dp.feed_update(bot, callback(submit))
    assert await _tickets(session) == 1
    assert (await session.execute(relayed)).scalar_one() == before  # nothing of the form went to the agent
    # Outside a form, text goes to the agent again.
    await dp.feed_update(bot, text("还有一个问题"))
    assert (await session.execute(relayed)).scalar_one() == before + 1


# --- unknown commands in a form ---------------------------------------------------------------------------------

async def test_an_unknown_command_is_not_a_form_answer(demo, dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, text("🛠 故障报修"))
    await dp.feed_update(bot, callback("flt:u:water"))
    await dp.feed_update(bot, callback("flt:c:water.water_leak"))
    question = bot.sent()[-1].text
    bot.clear()
    await dp.feed_update(bot, text("/deleteaccount"))
    notice, again = bot.sent()
    assert "/deleteaccount" in notice.text and ("命令" in notice.text or "command" in notice.text)
    assert again.text == question
    await dp.feed_update(bot, text(ADDRESS))
    await dp.feed_update(bot, callback("flt:x:home"))
    await dp.feed_update(bot, text("漏水"))
    await dp.feed_update(bot, callback("rqn:f:s"))
    await dp.feed_update(bot, text("13812345678"))
    summary = bot.sent()[-1].text
    assert ADDRESS in summary and "deleteaccount" not in summary


def test_known_commands_are_every_command_the_routers_handle() -> None:
    handled: set[str] = set()
    for router in get_routers():
        for handler in router.message.handlers:
            for f in handler.filters or []:
                if isinstance(f.callback, CommandStart):
                    handled.add("start")
                elif isinstance(f.callback, Command):
                    handled.update(str(c) for c in f.callback.commands)
    assert handled == set(KNOWN_COMMANDS)


# --- forged callback numbers ------------------------------------------------------------------------------------

def _callback_classes() -> list[type[CallbackData]]:
    found, todo = [], list(CallbackData.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _int_fields(cls: type[CallbackData]) -> list[str]:
    return [name for name, f in cls.model_fields.items() if f.annotation is int]


def test_every_callback_int_is_bounded() -> None:
    get_routers()  # imports every router module (and detaches them, so no Dispatcher in this test)
    classes = [c for c in _callback_classes() if _int_fields(c)]
    assert len(classes) >= 8
    for cls in classes:
        for name in _int_fields(cls):
            bounds = {type(m).__name__: m for m in cls.model_fields[name].metadata}
            assert bounds["Ge"].ge == CALLBACK_INT_MIN and bounds["Le"].le == CALLBACK_INT_MAX, (cls, name)


def _forged(cls: type[CallbackData], name: str, value: str) -> str:
    parts = [cls.__prefix__]
    for field, info in cls.model_fields.items():
        if field == name:
            parts.append(value)
        elif info.annotation is int:
            parts.append("1")
        else:
            kind = info.annotation
            options = typing.get_args(kind) or ([kind] if isinstance(kind, type) else [])
            enum = next((o for o in options if isinstance(o, type) and hasattr(o, "__members__")), None)
            parts.append(str(next(iter(enum)).value) if enum else "x")
    return cls.__separator__.join(parts)


async def test_forged_callback_numbers_are_answered_as_stale(dp, bot, session, ctx) -> None:
    # The dp fixture has imported every router module; get_routers() here would take them off this dp.
    forged = [_forged(cls, name, value) for cls in _callback_classes() for name in _int_fields(cls)
              for value in (str(2**63), str(10**30), "-5", "1e9", "0x10", "--1")]
    assert len(forged) > 50
    users = itertools.count(40_000)
    for data in forged:  # each from a new resident, so no earlier forged tap has opened a form
        bot.clear()
        await dp.feed_update(bot, callback(data, user_id=next(users), message_id=next(_ids)))
        [answer] = answers(bot)
        assert answer.text and ("失效" in answer.text or "no longer active" in answer.text), (data, answer)


# --- group chats and other people's chats -----------------------------------------------------------------------

def _in_chat(chat_type: str, chat_id: int, text: str = "菜单", user_id: int = OTHER) -> Update:
    msg = Message(message_id=next(_ids), date=datetime.now(UTC), chat=Chat(id=chat_id, type=chat_type),
                  from_user=updates.user(user_id), text=text)
    if chat_type == "channel":
        return Update(update_id=next(_ids), channel_post=msg.model_copy(update={"from_user": None}))
    return Update(update_id=next(_ids), message=msg)


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
async def test_groups_are_told_once_that_the_bot_works_in_private_chats(chat_type, dp, bot, session) -> None:
    chat_id = -100123
    for text in ("/start", "菜单", "🛠 故障报修"):
        await dp.feed_update(bot, _in_chat(chat_type, chat_id, text))
    [notice] = bot.sent()
    assert notice.chat_id == chat_id and ("私聊" in notice.text or "private" in notice.text)
    assert not bot.sent("AnswerCallbackQuery")
    assert (await session.execute(select(func.count()).select_from(Resident))).scalar_one() == 0


async def test_a_tap_on_another_users_message_acts_in_no_chat(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    other = await _resident(session, ctx, OTHER)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=other, reason=handoff.Reason.button)
    bot.clear()
    msg = Message(message_id=5, date=datetime.now(UTC), chat=Chat(id=OTHER, type="private"),
                  from_user=updates.user(BOT_ID), text="…")
    q = CallbackQuery(id="q-other", from_user=updates.user(ME), chat_instance="ci",
                      data=handoff.end_chat_data(conv.id), message=msg)
    await dp.feed_update(bot, Update(update_id=next(_ids), callback_query=q))
    [answer] = answers(bot)
    assert answer.show_alert and len(bot.requests) == 1  # nothing sent to, or edited in, anyone's chat
    status = (await session.execute(select(Conversation.status).where(Conversation.id == conv.id))).scalar_one()
    assert status == ConversationStatus.queued

"""The form kit's stale-button path (issue 16), through the real Dispatcher: every step of a form answers a
button that no longer does anything in one place — once, with an alert, editing and sending nothing — also
when Telegram reports the tapped message as inaccessible (older than 48 hours)."""

from __future__ import annotations

import itertools

import pytest
from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, Update
from sqlalchemy import func, select

from core.demo import load_demo
from db.models import Resident, Ticket
from tests import updates

ME = 30101  # not one of the demo's residents: no account, so no address or phone on file
_ids = itertools.count(800_000)


@pytest.fixture
async def demo(ctx):
    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
    return ctx


async def _resident(session, ctx, language: str = "en") -> None:
    session.add(Resident(id=ME, first_name="Li", language=language, guided_mode=False, blocked=False,
                         link_failures=0, misses=0, created_at=ctx.clock.now(), last_seen_at=ctx.clock.now()))
    await session.commit()


def inaccessible(data: str) -> Update:
    msg = InaccessibleMessage(chat=Chat(id=ME, type="private"), message_id=next(_ids))
    q = CallbackQuery(id=str(next(_ids)), from_user=updates.user(ME), chat_instance="ci", data=data, message=msg)
    return Update(update_id=next(_ids), callback_query=q)


async def _tickets(session) -> int:
    return (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()


async def _refused(dp, bot, data: str, state, at: str | None = None) -> None:
    """The tap is answered once as stale; nothing is sent or edited and the form stays where it was (``at``)."""
    before = await state.get_state(), await state.get_data()
    assert before[0] == at
    bot.clear()
    await dp.feed_update(bot, inaccessible(data))
    [answer] = bot.sent("AnswerCallbackQuery")
    assert answer.show_alert and answer.text == "Sorry, this button is no longer active. Please use the menu below."
    assert len(bot.requests) == 1, [type(r).__name__ for r in bot.requests]
    assert (await state.get_state(), await state.get_data()) == before


async def test_every_kit_step_of_the_fault_form_answers_a_stale_tap(demo, dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    state = dp.fsm.get_context(bot, chat_id=ME, user_id=ME)
    send = lambda update: dp.feed_update(bot, update)  # noqa: E731
    await send(updates.text("🛠 Report a fault", user_id=ME))
    await send(updates.callback("flt:u:water", user_id=ME))
    await send(updates.callback("flt:c:water.water_leak", user_id=ME))
    await _refused(dp, bot, "flt:a:4242", state, "FaultForm:location")  # not one of the resident's accounts
    await send(updates.text("Renmin Road 12, flat 502", user_id=ME))  # no district in it: asked next
    await _refused(dp, bot, "flt:d:Atlantis", state, "FaultForm:district")  # district step: not a served district
    await send(updates.callback("flt:d:-", user_id=ME))
    await send(updates.callback("flt:x:home", user_id=ME))
    await send(updates.text("The kitchen pipe drips", user_id=ME))
    await send(updates.callback("rqn:f:s", user_id=ME))
    await _refused(dp, bot, "flt:p:", state, "FaultForm:contact")  # phone step: no number on file any more
    await send(updates.text("13812345678", user_id=ME))
    await _refused(dp, bot, "flt:ok:" + "0" * 32, state, "FaultForm:confirm")  # confirm step: another form's Submit
    assert await _tickets(session) == 0
    key = (await state.get_data())["key"]
    await send(updates.callback(f"flt:ok:{key}", user_id=ME))
    assert await _tickets(session) == 1 and await state.get_state() is None

    # After the form: the same Submit is told the number; an unknown one is stale; neither files anything.
    bot.clear()
    await send(inaccessible(f"flt:ok:{key}"))
    [answer] = bot.sent("AnswerCallbackQuery")
    number = (await session.execute(select(Ticket.number))).scalar_one()
    assert answer.show_alert and number in answer.text and len(bot.requests) == 1
    await _refused(dp, bot, "flt:ok:" + "1" * 32, state)
    await _refused(dp, bot, "cmp:ok:" + "2" * 32, state)  # the complaint form's Submit, same rule
    assert await _tickets(session) == 1


async def test_the_kits_stale_text_is_the_one_of_every_stale_tap(dp, bot, session, ctx) -> None:
    """The fallback, the guards and the forms all say it with the kit's words (one msgid)."""
    await _resident(session, ctx, language="zh_Hans")
    for data in ("zz:nothing", "flt:ok:" + "3" * 32, "vst:a:1", "ho:end:123"):
        bot.clear()
        await dp.feed_update(bot, inaccessible(data))
        [answer] = bot.sent("AnswerCallbackQuery")
        assert answer.show_alert and "失效" in answer.text, (data, answer.text)
        assert len(bot.requests) == 1

"""A button that leads into another feature (an action under a guide) calls that feature's registered menu entry
directly (issue 16): no made-up message travels through the routers. Through the real Dispatcher."""

from __future__ import annotations

import itertools

from aiogram.types import CallbackQuery, Chat, InaccessibleMessage, ReplyKeyboardMarkup, Update

from bot import navigation
from bot.keyboards.guides import TopicActionCallback, topic_index
from bot.keyboards.menu import MAIN_MENU, msgid_of
from bot.routers import guides
from db.models import Resident
from knowledge.models import Action
from tests import updates

ME = 30201
_ids = itertools.count(900_000)


async def _resident(session, ctx, *, guided: bool = False) -> None:
    session.add(Resident(id=ME, first_name="Li", language="en", guided_mode=guided, blocked=False,
                         link_failures=0, misses=0, created_at=ctx.clock.now(), last_seen_at=ctx.clock.now()))
    await session.commit()


def _action(ctx, action: Action, slug: str, *, inaccessible: bool = False) -> Update:
    data = TopicActionCallback(action=action, t=topic_index(ctx.catalogue, slug)).pack()
    if not inaccessible:
        return updates.callback(data, user_id=ME, message_id=next(_ids))
    msg = InaccessibleMessage(chat=Chat(id=ME, type="private"), message_id=next(_ids))
    q = CallbackQuery(id=str(next(_ids)), from_user=updates.user(ME), chat_instance="ci", data=data, message=msg)
    return Update(update_id=next(_ids), callback_query=q)


def test_every_main_menu_button_and_every_action_has_an_entry(dp) -> None:
    # The dp fixture has imported every router: each registered the coroutine behind its menu button.
    assert {msgid_of(item) for item in MAIN_MENU} <= set(navigation.MENU_ENTRIES)
    assert {msgid_of(entry) for entry in guides.ACTION_ENTRIES.values()} <= set(navigation.MENU_ENTRIES)


async def test_an_action_starts_the_feature_without_a_message_through_the_routers(dp, bot, session, ctx,
                                                                                  monkeypatch) -> None:
    await _resident(session, ctx)
    seen: list[str] = []

    def spying(propagate):
        async def spy(update_type, event, **kwargs):
            seen.append(update_type)
            return await propagate(update_type=update_type, event=event, **kwargs)
        return spy

    # Every router's own entry point (the routing index installs one per router).
    for router in dp.chain_tail:
        monkeypatch.setattr(router, "propagate_event", spying(router.propagate_event))
    state = dp.fsm.get_context(bot, chat_id=ME, user_id=ME)
    await state.set_state("TariffForm:volume")  # in the middle of another form
    await dp.feed_update(bot, _action(ctx, Action.book_visit, "gas.ignition"))
    assert "message" not in seen and "callback_query" in seen
    assert await state.get_state() == "VisitForm:service"
    assert "Book a home visit" in bot.sent()[-1].text and bot.sent()[-1].chat_id == ME


async def test_an_action_on_an_inaccessible_message_still_starts_the_feature(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    await dp.feed_update(bot, _action(ctx, Action.report_fault, "power.fault", inaccessible=True))
    state = dp.fsm.get_context(bot, chat_id=ME, user_id=ME)
    assert await state.get_state() == "FaultForm:category"
    [answer] = bot.sent("AnswerCallbackQuery")
    assert not answer.show_alert
    assert "Report a fault" in bot.sent()[-1].text and not bot.sent("EditMessageText")


async def test_in_simple_mode_an_action_opens_the_simple_mode_page(dp, bot, session, ctx) -> None:
    await _resident(session, ctx, guided=True)
    await dp.feed_update(bot, _action(ctx, Action.report_fault, "power.fault"))
    state = dp.fsm.get_context(bot, chat_id=ME, user_id=ME)
    assert await state.get_state() == "Guided:active"
    assert [p["id"] for p in (await state.get_data())["g_stack"]] == ["home", "fault"]
    markup = bot.sent()[-1].reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup) and "🔥" in markup.keyboard[0][0].text  # the gas leak first

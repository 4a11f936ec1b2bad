"""📚 Guides & checklists: browse topics by utility, read a complete answer, follow its actions.

An answer is the topic rendered by the catalogue (already split into messages of at most 3500
characters); its buttons go under the last message. Action buttons that belong to another
feature (book a visit, report a fault, balance, outages, complaint) send the resident into that
feature's menu entry, exactly as if they had pressed it in the main menu.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.keyboards.guides import (
    GuideAct,
    GuideCallback,
    TopicActionCallback,
    topic_at,
    topic_keyboard,
    topics_keyboard,
    utilities_keyboard,
    utility_label,
)
from bot.keyboards.menu import MENU_BALANCE, MENU_COMPLAINT, MENU_FAULT, MENU_GUIDES, MENU_OUTAGES, MENU_VISIT
from core.context import AppContext
from knowledge.catalogue import as_lang
from knowledge.models import Action, Topic

router = Router(name=__name__)

# Action -> the main-menu entry of the feature that handles it.
ACTION_ENTRIES = {
    Action.book_visit: MENU_VISIT,
    Action.report_fault: MENU_FAULT,
    Action.complaint: MENU_COMPLAINT,
    Action.show_balance: MENU_BALANCE,
    Action.top_up: MENU_BALANCE,
    Action.tariff_calculator: MENU_BALANCE,
    Action.outages: MENU_OUTAGES,
}
# Routers that must not take a synthetic menu press (they would treat it as a question).
_NOT_ENTRY_ROUTERS = {"bot.routers.guides", "bot.routers.checklist", "bot.routers.escalation", "bot.routers.ask",
                      "bot.routers.fallback"}


def content_lang(i18n: I18n) -> str:
    return as_lang(i18n.current_locale)


async def send_topic(message: Message, ctx: AppContext, topic: Topic, lang: str, *, question_id: int = 0) -> None:
    """Send the full answer, one message per chunk, with the topic's buttons under the last one."""
    chunks = ctx.catalogue.render(topic, lang)
    markup = topic_keyboard(ctx.catalogue, topic, lang, question_id=question_id)
    for i, chunk in enumerate(chunks):
        await message.answer(chunk, reply_markup=markup if i == len(chunks) - 1 else None)


def guides_intro() -> str:
    return _("<b>Guides & checklists</b>\nChoose a service. Each guide tells you everything at once: "
             "documents, steps, time limits and fees. You can also just type your question.")


async def _edit_or_send(query: CallbackQuery, text: str, markup: Any) -> None:
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest:  # too old to edit, or unchanged: send afresh
        await query.message.answer(text, reply_markup=markup)


@router.message(F.text == MENU_GUIDES)
async def on_guides(message: Message) -> None:
    await message.answer(guides_intro(), reply_markup=utilities_keyboard())


@router.callback_query(GuideCallback.filter(F.act == GuideAct.home))
async def on_home(query: CallbackQuery) -> None:
    await query.answer()
    await _edit_or_send(query, guides_intro(), utilities_keyboard())


@router.callback_query(GuideCallback.filter(F.act == GuideAct.utility))
async def on_utility(query: CallbackQuery, callback_data: GuideCallback, ctx: AppContext, i18n: I18n) -> None:
    if callback_data.u is None:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer()
    text = _("<b>{utility}</b>\nWhich guide do you need?").format(utility=utility_label(callback_data.u))
    await _edit_or_send(query, text, topics_keyboard(ctx.catalogue, callback_data.u, content_lang(i18n)))


@router.callback_query(GuideCallback.filter(F.act == GuideAct.topic))
async def on_topic(query: CallbackQuery, callback_data: GuideCallback, ctx: AppContext, i18n: I18n) -> None:
    topic = topic_at(ctx.catalogue, callback_data.t)
    if topic is None:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer()
    await send_topic(query.message, ctx, topic, content_lang(i18n))


async def enter_menu_entry(entry: Any, query: CallbackQuery, state: FSMContext, data: dict[str, Any]) -> bool:
    """Run the feature that owns a main-menu entry as if the resident had pressed that button.

    The press is propagated through the feature routers only (never into the question matcher
    or the fallback); returns False when no feature handles it (not installed in this build).
    """
    dispatcher = data.get("dispatcher")
    if dispatcher is None or query.message is None:
        return False
    await state.clear()  # pressing a menu entry always leaves a form
    press = Message(
        message_id=query.message.message_id, date=query.message.date, chat=query.message.chat,
        from_user=query.from_user, text=str(entry),
    ).as_(data["bot"])
    skip = {"handler", "event_router", "callback_data"}
    kwargs = {k: v for k, v in data.items() if k not in skip}
    kwargs.update(state=state, raw_state=None)
    for feature in dispatcher.sub_routers:
        if feature.name in _NOT_ENTRY_ROUTERS:
            continue
        if await feature.propagate_event("message", press, **kwargs) is not UNHANDLED:
            return True
    return False


@router.callback_query(TopicActionCallback.filter())
async def on_action(query: CallbackQuery, callback_data: TopicActionCallback, state: FSMContext, ctx: AppContext,
                    **data: Any) -> None:
    entry = ACTION_ENTRIES.get(callback_data.action)
    if entry is None or topic_at(ctx.catalogue, callback_data.t) is None:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer()
    if not await enter_menu_entry(entry, query, state, {**data, "ctx": ctx}):
        await query.message.answer(_("Please tap “{entry}” in the menu below.").format(entry=str(entry)))

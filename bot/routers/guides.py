"""📚 Guides & checklists: browse topics by utility, read a complete answer, follow its actions.

An answer is the topic rendered by the catalogue (already split into messages of at most 3500
characters); its buttons go under the last message. Action buttons that belong to another
feature (book a visit, report a fault, balance, outages, complaint) start that feature's main-menu
entry, the coroutine it registered with ``bot.navigation.menu_entry``, as pressing it in the menu would.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.forms.buttons import message_of, stale
from bot.keyboards.guides import (
    GuideAct,
    GuideCallback,
    TopicActionCallback,
    topic_at,
    topics_keyboard,
    utilities_keyboard,
    utility_label,
)
from bot.keyboards.menu import MENU_BALANCE, MENU_COMPLAINT, MENU_FAULT, MENU_GUIDES, MENU_OUTAGES, MENU_VISIT
from bot.navigation import enter_menu_entry, menu_entry
from bot.views.guides import content_lang, send_topic
from core.context import AppContext
from knowledge.models import Action

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


def guides_intro() -> str:
    return _("<b>Guides & checklists</b>\nChoose a service. Each guide tells you everything at once: "
             "documents, steps, time limits and fees. You can also just type your question.")


async def _edit_or_send(query: CallbackQuery, text: str, markup: Any) -> None:
    try:
        await message_of(query).edit_text(text, reply_markup=markup)
    except TelegramBadRequest:  # too old to edit, or unchanged: send afresh
        await message_of(query).answer(text, reply_markup=markup)


@router.message(F.text == MENU_GUIDES)
@menu_entry(MENU_GUIDES)
async def on_guides(message: Message) -> None:
    await message.answer(guides_intro(), reply_markup=utilities_keyboard())


@router.callback_query(GuideCallback.filter(F.act == GuideAct.home))
async def on_home(query: CallbackQuery) -> None:
    await query.answer()
    await _edit_or_send(query, guides_intro(), utilities_keyboard())


@router.callback_query(GuideCallback.filter(F.act == GuideAct.utility))
async def on_utility(query: CallbackQuery, callback_data: GuideCallback, ctx: AppContext, i18n: I18n) -> None:
    if callback_data.u is None:
        await stale(query)
        return
    await query.answer()
    text = _("<b>{utility}</b>\nWhich guide do you need?").format(utility=utility_label(callback_data.u))
    await _edit_or_send(query, text, topics_keyboard(ctx.catalogue, callback_data.u, content_lang(i18n)))


@router.callback_query(GuideCallback.filter(F.act == GuideAct.topic))
async def on_topic(query: CallbackQuery, callback_data: GuideCallback, ctx: AppContext, i18n: I18n) -> None:
    topic = topic_at(ctx.catalogue, callback_data.t)
    if topic is None:
        await stale(query)
        return
    await query.answer()
    await send_topic(message_of(query), ctx, topic, content_lang(i18n))


@router.callback_query(TopicActionCallback.filter())
async def on_action(query: CallbackQuery, callback_data: TopicActionCallback, state: FSMContext, ctx: AppContext,
                    **data: Any) -> None:
    entry = ACTION_ENTRIES.get(callback_data.action)
    if entry is None or topic_at(ctx.catalogue, callback_data.t) is None:
        await stale(query)
        return
    await query.answer()
    if not await enter_menu_entry(entry, message_of(query), {**data, "state": state, "ctx": ctx}):
        await message_of(query).answer(_("Please tap “{entry}” in the menu below.").format(entry=str(entry)))

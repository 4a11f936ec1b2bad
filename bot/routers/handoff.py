"""Talk to a person: join the queue, relay messages to the agent, end the chat.

Included right after settings so that a resident in a conversation talks to the agent, not to the
features. Main-menu buttons and commands still work during a chat (a resident may check a balance
while waiting); everything else they send is passed to the agent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_HUMAN, is_menu_text
from bot.middlewares.commands import in_form
from bot.routers.start import show_menu
from core import handoff
from core.clock import local
from core.context import AppContext
from db.enums import ConversationStatus
from db.models import Conversation, Resident

router = Router(name=__name__)


class HandoffAction(StrEnum):
    end = "end"


class HandoffCallback(CallbackData, prefix="ho"):
    action: HandoffAction
    conv: CallbackInt


def end_keyboard(conversation_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ End chat"), callback_data=HandoffCallback(action=HandoffAction.end, conv=conversation_id))
    return kb.as_markup()


def _when(at: datetime, lang: str | None) -> str:
    t = local(at)
    if lang == "en":
        return t.strftime("%a %d %b, %H:%M")
    return f"{t.month}月{t.day}日 {t:%H:%M}"


async def start_handoff(
    message: Message,
    *,
    session: AsyncSession,
    ctx: AppContext,
    resident: Resident,
    reason: str = handoff.Reason.button,
    last_exchange: str | dict[str, Any] | None = None,
    priority: int = handoff.PRIORITY_NORMAL,
) -> Conversation:
    """Queue the resident and tell them what happens next. Other routers call this too
    (e.g. after two not-understood questions, or an answer's "talk to a person" button)."""
    existing = await handoff.active_conversation(session, resident.id)
    if existing is not None:
        await _already(message, session, existing)
        return existing
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=reason,
                                         last_exchange=last_exchange, priority=priority)
    await message.answer(_queued_text(conv, await handoff.queue_position(session, conv), resident.language),
                         reply_markup=end_keyboard(conv.id))
    return conv


def _queued_text(conv: Conversation, position: int, lang: str | None) -> str:
    if conv.context.get("off_hours"):
        opens = datetime.fromisoformat(conv.context["opens_at"])
        text = _("Our colleagues answer chats on working days from 8:30 to 17:30. Your request is saved, and "
                 "the first colleague on duty will reply here from {time}. You can already write your question, "
                 "or send a photo or document.").format(time=_when(opens, lang))
        if conv.context.get("callback_ticket"):
            text += "\n\n" + _("We have also registered a callback request, number {number}: "
                               "we will get back to you within 24 hours.").format(
                                   number=conv.context["callback_ticket"])
        return text
    return _("You are in the queue to talk to a person (number {position}). A colleague will answer here "
             "shortly. You can already write your question, or send a photo or document.").format(position=position)


async def _already(message: Message, session: AsyncSession, conv: Conversation) -> None:
    if conv.status == ConversationStatus.active:
        text = _("You are already talking with our customer service. Just write here.")
    else:
        text = _("You are already waiting for a colleague (number {position} in the queue). Just write here.").format(
            position=await handoff.queue_position(session, conv))
    await message.answer(text, reply_markup=end_keyboard(conv.id))


@router.message(F.text == MENU_HUMAN)
async def on_talk_to_person(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                            resident: Resident) -> None:
    await state.clear()
    await start_handoff(message, session=session, ctx=ctx, resident=resident)


# -- relay while a conversation is open ------------------------------------------------------------------------

async def in_conversation(message: Message, session: AsyncSession, resident: Resident,
                          raw_state: str | None = None) -> bool | dict[str, Any]:
    """Messages of a resident with an open conversation, except menu buttons, commands and form answers.

    Precedence (issue 13): payments (their own router, first), then the form the resident is in, then the
    chat. A resident who opened a form during a chat finishes it; the form's routers come after this one, so
    this filter lets them have the message. Simple mode's screens are not a form here (its router decides).
    """
    if message.text and (message.text.startswith("/") or is_menu_text(message.text)):
        return False
    if in_form(raw_state):
        return False
    conv = await handoff.conversation_for_update(session, resident.id)
    return {"conversation": conv} if conv is not None else False


@router.message(in_conversation, F.text)
async def relay_text(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="text",
                                      text=message.text)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.photo)
async def relay_photo(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    best = message.photo[-1]
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="photo",
                                      text=message.caption, file_id=best.file_id)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.document)
async def relay_document(message: Message, session: AsyncSession, ctx: AppContext,
                         conversation: Conversation) -> None:
    doc = message.document
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="document",
                                      text=message.caption, file_id=doc.file_id, file_name=doc.file_name)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation, F.voice)
async def relay_voice(message: Message, session: AsyncSession, ctx: AppContext, conversation: Conversation) -> None:
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conversation, content_type="voice",
                                      file_id=message.voice.file_id)
    await _ack_if_waiting(message, session, conversation)


@router.message(in_conversation)
async def relay_unsupported(message: Message) -> None:
    await message.answer(_("Sorry, this kind of message cannot be passed on. "
                           "Please send text, a photo or a document."))


async def _ack_if_waiting(message: Message, session: AsyncSession, conv: Conversation) -> None:
    # While nobody has the chat yet, confirm the first message so the resident knows it is not lost;
    # after that, and once an agent is talking, silence is normal chat behaviour.
    if conv.status == ConversationStatus.queued and await handoff.count_inbound(session, conv.id) == 1:
        await message.answer(
            _("Saved. The colleague who takes your chat will see this message "
              "(you are number {position} in the queue).").format(
                position=await handoff.queue_position(session, conv)),
            reply_markup=end_keyboard(conv.id))


# -- a voice note outside a chat: the bot cannot listen, a person can --------------------------------------------

@router.message(F.voice)
async def on_voice(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                   resident: Resident) -> None:
    await state.clear()
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.voice,
                                         priority=handoff.PRIORITY_VOICE)
    await handoff.relay_from_resident(session, ctx=ctx, conversation=conv, content_type="voice",
                                      file_id=message.voice.file_id)
    text = _("I cannot listen to voice messages myself, so I have passed yours to a colleague, "
             "who will listen to it and answer here.")
    if conv.context.get("off_hours"):
        text += "\n\n" + _queued_text(conv, 0, resident.language)
    await message.answer(text, reply_markup=end_keyboard(conv.id))


# -- the resident ends the chat (the R4 survey is answered in bot/routers/survey.py) ------------------------

@router.callback_query(HandoffCallback.filter(F.action == HandoffAction.end))
async def on_end(query: CallbackQuery, callback_data: HandoffCallback, session: AsyncSession, ctx: AppContext,
                 resident: Resident) -> None:
    conv = await session.get(Conversation, callback_data.conv)
    if conv is None or conv.resident_id != resident.id:  # forged or someone else's
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    ended = await handoff.end_by_resident(session, ctx=ctx, conversation=conv)
    await query.answer()
    if query.message:
        await query.message.edit_reply_markup(reply_markup=None)
    if ended:
        await show_menu(query.message, resident, _("The chat has ended. Thank you for contacting us!"))
    else:
        await show_menu(query.message, resident, _("This chat has already ended."))

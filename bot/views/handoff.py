"""Queueing a resident for a person (R6) and what they are told; the chat itself is bot/routers/handoff.py.

Also started from an answer's "talk to a person", after questions the bot could not match, and from simple
mode, so it lives below the routers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import HandoffAction, HandoffCallback
from core import handoff
from core.clock import local
from core.context import AppContext
from db.enums import ConversationStatus
from db.models import Conversation, Resident


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
    """Queue the resident and tell them what happens next (or that they are already waiting or talking)."""
    existing = await handoff.active_conversation(session, resident.id)
    if existing is not None:
        await _already(message, session, existing)
        return existing
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=reason,
                                         last_exchange=last_exchange, priority=priority)
    await message.answer(queued_text(conv, await handoff.queue_position(session, conv), resident.language),
                         reply_markup=end_keyboard(conv.id))
    return conv


def queued_text(conv: Conversation, position: int, lang: str | None) -> str:
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

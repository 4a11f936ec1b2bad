"""Sending a knowledge topic (the complete answer, R1) with its buttons: guides, questions and checklists."""

from __future__ import annotations

from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.keyboards.guides import topic_keyboard
from core.context import AppContext
from knowledge.catalogue import as_lang
from knowledge.models import Lang, Topic


def content_lang(i18n: I18n) -> Lang:
    return as_lang(i18n.current_locale)


async def send_topic(message: Message, ctx: AppContext, topic: Topic, lang: Lang, *, question_id: int = 0,
                     not_this: bool = False) -> None:
    """Send the full answer, one message per chunk, with the topic's buttons under the last one
    (``not_this``: with "not what I asked", for the matcher's own answer to a typed question)."""
    chunks = ctx.catalogue.render(topic, lang)
    markup = topic_keyboard(ctx.catalogue, topic, lang, question_id=question_id, not_this=not_this)
    for i, chunk in enumerate(chunks):
        await message.answer(chunk, reply_markup=markup if i == len(chunks) - 1 else None)

"""Answering taps: the one "this button is no longer active" of the whole bot, and taking buttons off a step.

A tap can come from an old message (sent before a restart or a finished form, or older than 48 hours, which
Telegram reports as an ``InaccessibleMessage``), or carry forged data. Every such tap is answered here, with an
alert, and nothing is edited or sent: there may be no message left to edit.
"""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


def stale_text() -> str:
    return _("Sorry, this button is no longer active. Please use the menu below.")


async def stale(query: CallbackQuery) -> None:
    """Tell the resident the button they tapped no longer does anything (also on an inaccessible message)."""
    await query.answer(stale_text(), show_alert=True)


async def ack(query: CallbackQuery) -> None:
    """Answer a button press and take the buttons off its message, so the same step is not answered twice."""
    await query.answer()
    if isinstance(query.message, Message):  # an inaccessible message has no buttons left to take off
        with contextlib.suppress(TelegramBadRequest):  # already edited (double tap) or too old
            await query.message.edit_reply_markup(reply_markup=None)


def message_of(query: CallbackQuery) -> Message:
    """The message under the tapped button, as a ``Message``.

    aiogram types ``query.message`` as ``Message | InaccessibleMessage | None``; the update guards make it a
    ``Message`` before any handler runs: PrivateChatOnlyMiddleware answers a tap without a message as stale, and
    CallbackGuardMiddleware turns an inaccessible message into a FreshMessage (a ``Message`` whose edits send a
    new message). Only a handler called around the guards could see anything else."""
    message = query.message
    if not isinstance(message, Message):
        raise TypeError(f"callback query {query.id} reached a handler without an accessible message")
    return message

"""Catch-all, included LAST: anything no feature understood gets a polite answer and changes nothing."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.forms.buttons import stale
from bot.navigation import show_menu
from db.models import Resident

router = Router(name=__name__)


@router.callback_query()
async def on_stale_callback(query: CallbackQuery) -> None:
    # Old buttons (from before a restart or a finished form) and forged data end here.
    await stale(query)


@router.edited_message()
async def on_edited(message: Message) -> None:
    # An edit changes nothing already filed or asked; say so, rather than leave the resident waiting.
    await message.answer(_("I only read new messages, so your edit did not reach us. If something changed, "
                           "please send it again as a new message."))


@router.message(lambda m: bool(m.text))
async def on_unknown_text(message: Message, resident: Resident) -> None:
    await show_menu(
        message, resident,
        _("Sorry, I did not understand that. Please choose from the menu, or ask in a few words, "
          "for example “how do I pay my water bill”."),
    )


@router.message()
async def on_unsupported(message: Message, resident: Resident) -> None:
    await show_menu(
        message, resident,
        _("Sorry, I cannot read this kind of message. Please send text, or choose from the menu below."),
    )

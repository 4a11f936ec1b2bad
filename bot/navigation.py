"""Getting around between features: the main menu, simple mode, the language choice, and menu entries.

Below every router, so the start, settings, fallback and form routers all show the menu (and enter simple
mode) without importing each other. Each feature registers the coroutine behind its main-menu button with
``@menu_entry``; a button elsewhere that leads into a feature (an action under a guide) calls that coroutine
directly through ``enter_menu_entry``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import GuidedOffer, GuidedOfferCallback, Lang, LanguageCallback
from bot.guided.engine import G
from bot.guided.ids import entry_page
from bot.keyboards.menu import main_menu, msgid_of
from core.context import AppContext
from db.models import Resident

Entry = Callable[..., Awaitable[Any]]
E = TypeVar("E", bound=Entry)

# msgid of a main-menu button -> the coroutine its feature runs when it is pressed.
MENU_ENTRIES: dict[str, Entry] = {}


async def show_menu(message: Message, resident: Resident, text: str | None = None) -> None:
    await message.answer(text or _("How can we help you? Choose below or just type your question."),
                         reply_markup=main_menu())


def language_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="中文", callback_data=LanguageCallback(code=Lang.zh))
    kb.button(text="English", callback_data=LanguageCallback(code=Lang.en))
    return kb.as_markup()


def guided_offer_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("👍 Yes, simple mode"), callback_data=GuidedOfferCallback(choice=GuidedOffer.on))
    kb.button(text=_("No, thanks"), callback_data=GuidedOfferCallback(choice=GuidedOffer.off))
    kb.adjust(1)
    return kb.as_markup()


async def enter_guided(message: Message, *, state: FSMContext, session: AsyncSession, resident: Resident,
                       ctx: AppContext, i18n: I18n, page: str | None = None) -> None:
    """Show simple mode's home screen (or ``page`` on top of it), starting a fresh screen stack."""
    g = G(message=message, state=state, session=session, resident=resident, ctx=ctx, i18n=i18n, stored={})
    if page is not None:
        g.go(page)
    await g.show()


def menu_entry(item: object) -> Callable[[E], E]:
    """Register ``entry`` as what the main-menu button ``item`` starts (the function is returned unchanged)."""
    def register(entry: E) -> E:
        MENU_ENTRIES[msgid_of(item)] = entry
        return entry
    return register


async def enter_menu_entry(item: object, message: Message, data: dict[str, Any]) -> bool:
    """Start the feature behind the main-menu button ``item`` in the chat of ``message``, as pressing the button
    would: any form is left first, and a resident in simple mode gets the simple-mode page instead.

    ``data`` is the handler's workflow data (state, session, resident, ctx, i18n, ...); the entry coroutine gets
    the items it names. Returns False when no feature owns the entry (not installed in this build).
    """
    state: FSMContext = data["state"]
    await state.clear()  # pressing a menu entry always leaves a form
    resident: Resident | None = data.get("resident")
    page = entry_page(item)
    if resident is not None and resident.guided_mode and page is not None:
        await enter_guided(message, state=state, session=data["session"], resident=resident, ctx=data["ctx"],
                           i18n=data["i18n"], page=page)
        return True
    entry = MENU_ENTRIES.get(msgid_of(item))
    if entry is None:
        return False
    wanted = inspect.signature(entry).parameters
    given = {**data, "state": state, "raw_state": None}
    await entry(message, **{name: value for name, value in given.items() if name in wanted and name != "message"})
    return True

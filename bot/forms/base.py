"""What every request form shares: the update in hand (``Turn``), expiry of an abandoned form, and Cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import ack, message_of
from bot.keyboards.requests import Form, FormNav, Nav
from bot.middlewares.forms import StaleFormMiddleware
from bot.navigation import show_menu
from core.context import AppContext
from db.models import Resident


@dataclass(frozen=True)
class Turn:
    """One update inside a form: the chat to answer in and what the steps work with."""

    message: Message
    state: FSMContext
    session: AsyncSession
    ctx: AppContext
    resident: Resident

    @property
    def lang(self) -> str | None:
        return self.resident.language


Then = Callable[[Turn], Awaitable[None]]


def install(router: Router, *groups: type[StatesGroup], form: Form, cancelled: Callable[[], str]) -> None:
    """Give a form router what every form has: a form left for hours is forgotten at the next update
    (StaleFormMiddleware), and ✖️ Cancel under any question leaves it with ``cancelled()`` and the menu."""
    expiry = StaleFormMiddleware(*groups)
    router.message.outer_middleware(expiry)
    router.callback_query.outer_middleware(expiry)

    async def on_cancel(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
        await ack(query)
        await state.clear()
        await show_menu(message_of(query), resident, cancelled())

    router.callback_query.register(on_cancel, StateFilter(*groups),
                                   FormNav.filter((F.form == form) & (F.nav == Nav.cancel)))

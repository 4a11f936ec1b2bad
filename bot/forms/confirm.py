"""Form step: the draft summary with Submit (and ✖️ Cancel under it), and the answers around it.

The Submit button carries the form's idempotency key, fixed when the form started: a Submit from another form
(an old message) is stale, and one tapped again after the form ended (a second device, a slow network) is told
the number already given — never filed twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Turn
from bot.forms.buttons import ack, message_of, stale
from bot.keyboards.menu import main_menu
from bot.keyboards.requests import Form, nav_buttons
from core.context import AppContext
from db.models import Resident


class ConfirmStep:
    """``summary(data, turn)`` with a ``label()`` button whose data is ``submit(key)``; a tap with the form's key
    runs ``send(turn, data)``. ``find(session, key)`` looks up what a key filed (anything with ``resident_id`` and
    ``number``), told as ``already()``; ``other()`` answers a message typed at this step."""

    def __init__(self, state: State, *, form: Form, submit: Callable[[str], CallbackData], label: Callable[[], str],
                 summary: Callable[[dict[str, Any], Turn], str],
                 send: Callable[[Turn, dict[str, Any]], Awaitable[None]],
                 find: Callable[[AsyncSession, str], Awaitable[Any]], already: Callable[[], str],
                 other: Callable[[], str]) -> None:
        self.state, self.form, self.submit, self.label, self.summary = state, form, submit, label, summary
        self.send, self.find, self.already, self.other = send, find, already, other

    def keyboard(self, key: str) -> InlineKeyboardMarkup:
        kb = InlineKeyboardBuilder()
        kb.button(text=self.label(), callback_data=self.submit(key))
        nav_buttons(kb, self.form)
        kb.adjust(1)
        return kb.as_markup()

    async def show(self, turn: Turn, note: str | None = None) -> None:
        """The summary to check; ``note`` goes first, with the main menu back in place of the step's keyboard."""
        await turn.state.set_state(self.state)
        data = await turn.state.get_data()
        if note is not None:
            await turn.message.answer(note, reply_markup=main_menu())
        await turn.message.answer(self.summary(data, turn), reply_markup=self.keyboard(data["key"]))

    def register(self, router: Router, *, submit_filter: Filter) -> None:
        router.callback_query.register(self._submit, self.state, submit_filter)
        router.callback_query.register(self._again, submit_filter, StateFilter(None))
        router.message.register(self._other, self.state)

    async def _submit(self, query: CallbackQuery, callback_data: CallbackData, state: FSMContext,
                      session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
        data = await state.get_data()
        if getattr(callback_data, "v", None) != data.get("key"):
            await stale(query)
            return
        await ack(query)
        await self.send(Turn(message_of(query), state, session, ctx, resident), data)

    async def _again(self, query: CallbackQuery, callback_data: CallbackData, session: AsyncSession,
                     resident: Resident) -> None:
        key = getattr(callback_data, "v", "")
        filed = await self.find(session, key) if key else None
        if filed is None or filed.resident_id != resident.id:
            await stale(query)
            return
        await query.answer(self.already().format(number=filed.number), show_alert=True)

    async def _other(self, message: Message, state: FSMContext) -> None:
        await message.answer(self.other(), reply_markup=self.keyboard((await state.get_data())["key"]))

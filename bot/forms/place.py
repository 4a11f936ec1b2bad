"""Form steps: where — one of the resident's addresses, a typed address, the shared location; and the district.

The addresses offered are those of the resident's verified accounts (the form's utility first), at most five;
a tapped address is looked up again among them, so an old or forged button changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Turn
from bot.forms.buttons import ack, message_of, stale
from bot.keyboards.requests import Form, location_keyboard, nav_buttons
from core import tickets
from core.context import AppContext
from db.models import Resident, UtilityAccount

MAX_ADDRESSES = 5
MIN_CHARS, MAX_CHARS = 4, 200

Districts = Callable[[AsyncSession], Awaitable[list[str]]]


def typed_address(text: str) -> str | None:
    """A typed address with its spacing tidied, or None if it cannot be one."""
    text = " ".join(text.split())
    return text if MIN_CHARS <= len(text) <= MAX_CHARS and not text.startswith("/") else None


class AddressStep:
    """Ask where in ``state``: the resident's addresses as buttons (``pick(account_id)`` is a button's data),
    a typed address, and with ``location`` the shared location too. ``ask(has_addresses)`` is the question;
    ``invalid`` answers a typed text that cannot be an address, ``other`` anything else."""

    def __init__(self, state: State, *, form: Form, pick: Callable[[int], CallbackData],
                 ask: Callable[[bool], str], invalid: Callable[[], str], other: Callable[[], str],
                 on_account: Callable[[Turn, UtilityAccount], Awaitable[None]],
                 on_typed: Callable[[Turn, str], Awaitable[None]],
                 on_location: Callable[[Turn, float, float], Awaitable[None]] | None = None,
                 served: Districts | None = None) -> None:
        self.state, self.form, self.pick, self.ask_text = state, form, pick, ask
        self.invalid, self.other = invalid, other
        self.on_account, self.on_typed, self.on_location, self.served = on_account, on_typed, on_location, served

    async def ask(self, turn: Turn) -> None:
        await turn.state.set_state(self.state)
        accounts = await tickets.resident_accounts(turn.session, turn.resident.id)
        utility = (await turn.state.get_data()).get("utility")
        accounts.sort(key=lambda a: a.utility.value != utility)  # the same utility's address first
        served = set(await self.served(turn.session)) if self.served is not None else None
        seen: set[str] = set()
        kb = InlineKeyboardBuilder()
        for acc in accounts:
            address = tickets.account_address(acc)
            if (served is not None and acc.district not in served) or address in seen or len(seen) >= MAX_ADDRESSES:
                continue
            seen.add(address)
            kb.button(text=f"🏠 {address}", callback_data=self.pick(acc.id))
        nav_buttons(kb, self.form)
        kb.adjust(1)
        if self.on_location is None:
            await turn.message.answer(self.ask_text(bool(seen)), reply_markup=kb.as_markup())
            return
        await turn.message.answer(self.ask_text(bool(seen)), reply_markup=location_keyboard())
        if seen:
            await turn.message.answer(_("Or tap one of your addresses:"), reply_markup=kb.as_markup())

    def register(self, router: Router, *, pick_filter: Filter) -> None:
        router.callback_query.register(self._picked, self.state, pick_filter)
        if self.on_location is not None:
            router.message.register(self._location, self.state, F.location)
        router.message.register(self._typed, self.state, F.text)
        router.message.register(self._other, self.state)

    async def _picked(self, query: CallbackQuery, callback_data: CallbackData, state: FSMContext,
                      session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
        accounts = {str(a.id): a for a in await tickets.resident_accounts(session, resident.id)}
        acc = accounts.get(getattr(callback_data, "v", ""))
        if acc is None:  # not one of this resident's verified accounts (stale or forged)
            await stale(query)
            return
        await ack(query)
        await self.on_account(Turn(message_of(query), state, session, ctx, resident), acc)

    async def _location(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                        resident: Resident) -> None:
        loc = message.location
        assert self.on_location is not None and loc is not None  # registered only with on_location, F.location
        await self.on_location(Turn(message, state, session, ctx, resident), loc.latitude, loc.longitude)

    async def _typed(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
        address = typed_address(message.text or "")  # registered with F.text: never empty here
        if address is None:
            await message.answer(self.invalid())
            return
        await self.on_typed(Turn(message, state, session, ctx, resident), address)

    async def _other(self, message: Message) -> None:
        await message.answer(self.other())


class DistrictStep:
    """Which district a typed address or a shared location is in: the districts as buttons (``pick(name)``),
    with "Not sure" (None) when ``not_sure``."""

    def __init__(self, state: State, *, form: Form, districts: Districts, pick: Callable[[str], CallbackData],
                 other: Callable[[], str], then: Callable[[Turn, str | None], Awaitable[None]],
                 not_sure: bool = False) -> None:
        self.state, self.form, self.districts, self.pick, self.other = state, form, districts, pick, other
        self.then, self.not_sure = then, not_sure

    def keyboard(self, districts: list[str]) -> InlineKeyboardMarkup:
        kb = InlineKeyboardBuilder()
        for d in districts:
            kb.button(text=d, callback_data=self.pick(d))
        if self.not_sure:
            kb.button(text=_("Not sure"), callback_data=self.pick("-"))
        nav_buttons(kb, self.form)
        kb.adjust(2)
        return kb.as_markup()

    async def ask(self, turn: Turn, intro: str | None = None) -> None:
        await turn.state.set_state(self.state)
        text = _("Which district is it in?")
        await turn.message.answer(f"{intro}\n{text}" if intro else text,
                                  reply_markup=self.keyboard(await self.districts(turn.session)))

    def register(self, router: Router, *, pick_filter: Filter) -> None:
        router.callback_query.register(self._picked, self.state, pick_filter)
        router.message.register(self._other, self.state)

    async def _picked(self, query: CallbackQuery, callback_data: CallbackData, state: FSMContext,
                      session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
        value: str = getattr(callback_data, "v", "")
        if self.not_sure and value == "-":
            district = None
        elif value in await self.districts(session):
            district = value
        else:  # a district no longer served, or forged data
            await stale(query)
            return
        await ack(query)
        await self.then(Turn(message_of(query), state, session, ctx, resident), district)

    async def _other(self, message: Message) -> None:
        await message.answer(self.other())

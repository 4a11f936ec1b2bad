"""Form step: the resident's phone number — the share-contact button, typed digits, the number on file, or Skip.

Only the resident's own contact counts (R15): the share button sends their own card; a card from the address
book is someone else's. Simple mode asks with its own big buttons but reads a shared contact with
``read_contact`` like the forms here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Turn
from bot.forms.buttons import ack, message_of, stale
from bot.keyboards.requests import Form, FormNav, Nav, contact_keyboard, nav_keyboard
from core import tickets
from core.context import AppContext
from db.models import Resident

TYPED_CHARS = 40  # a phone number typed with spaces and dashes fits; more is not a number


class PhoneProblem(StrEnum):
    not_own = "not_own"  # someone else's card
    unreadable = "unreadable"  # no mainland number in it


@dataclass(frozen=True)
class Reading:
    phone: str | None
    problem: PhoneProblem | None = None


def read_contact(phone_number: str, own: bool) -> Reading:
    """A shared contact: its cleaned number if it is the sender's own and readable."""
    if not own:
        return Reading(None, PhoneProblem.not_own)
    phone = tickets.clean_phone(phone_number)
    return Reading(phone) if phone else Reading(None, PhoneProblem.unreadable)


def typed_phone(text: str) -> str | None:
    return tickets.clean_phone(text[:TYPED_CHARS])


def mask_phone(phone: str | None) -> str:
    if not phone:
        return "-"
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


async def phone_on_file(session: AsyncSession, resident_id: int) -> str | None:
    """The first readable phone number of the resident's verified accounts."""
    for acc in await tickets.resident_accounts(session, resident_id):
        phone = tickets.clean_phone(acc.phone)
        if phone:
            return phone
    return None


def not_own_text() -> str:
    return _("Please share your own number with the button, or type the number.")


def invalid_text() -> str:
    return _("That does not look like a phone number. Please type an 11-digit mobile number such as 13812345678, "
             "or a landline with its area code such as 0512-65231234.")


@dataclass(frozen=True)
class PhoneTexts:
    """What the step answers to a wrong contact or a typed non-number (the request forms' words by default)."""

    not_own: Callable[[], str] = not_own_text
    invalid: Callable[[], str] = invalid_text
    with_keyboard: bool = False  # repeat the step's keyboard under those answers


# What a form does with the number (None: skipped or "reply in the chat") and the contact's name.
PhoneThen = Callable[[Turn, str | None, str | None], Awaitable[None]]


class PhoneStep:
    """Ask for a phone number in ``state`` and hand it to ``then``.

    ``on_file``: offer the number of the resident's account as an inline button (its callback data);
    ``skip``: the form whose Skip button means "no call, reply here"; ``strict``: a card without a Telegram user
    is refused too; ``keep_digits``: a card whose number is not a mainland one is kept as its digits.
    """

    def __init__(self, state: State, then: PhoneThen, *, ask: Callable[[], str],
                 keyboard: Callable[[], ReplyKeyboardMarkup] = contact_keyboard, on_file: CallbackData | None = None,
                 skip: Form | None = None, texts: PhoneTexts = PhoneTexts(), strict: bool = False,
                 keep_digits: bool = False) -> None:
        self.state, self.then, self.ask_text, self.keyboard = state, then, ask, keyboard
        self.on_file, self.skip, self.texts, self.strict, self.keep_digits = on_file, skip, texts, strict, keep_digits

    async def ask(self, turn: Turn) -> None:
        await turn.state.set_state(self.state)
        await turn.message.answer(self.ask_text(), reply_markup=self.keyboard())
        if self.on_file is not None:
            on_file = await phone_on_file(turn.session, turn.resident.id)
            if on_file:
                kb = InlineKeyboardBuilder()
                kb.button(text=_("Use the number on file: {phone}").format(phone=mask_phone(on_file)),
                          callback_data=self.on_file)
                await turn.message.answer(_("Or use the phone number of your account:"), reply_markup=kb.as_markup())
        if self.skip is not None:
            await turn.message.answer(_("No phone call needed?"), reply_markup=nav_keyboard(self.skip, skip=True))

    def register(self, router: Router, *, on_file_filter: Filter | None = None) -> None:
        """Register the step's handlers (after any of the form's own handlers for the same state)."""
        router.message.register(self._contact, self.state, F.contact)
        if on_file_filter is not None:
            router.callback_query.register(self._on_file, self.state, on_file_filter)
        router.message.register(self._typed, self.state, F.text)
        router.message.register(self._other, self.state)
        if self.skip is not None:
            router.callback_query.register(self._skipped, self.state,
                                           FormNav.filter((F.form == self.skip) & (F.nav == Nav.skip)))

    async def _say(self, message: Message, text: str) -> None:
        await message.answer(text, reply_markup=self.keyboard() if self.texts.with_keyboard else None)

    async def _contact(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident) -> None:
        contact = message.contact
        assert contact is not None  # registered with F.contact
        # The resident is the sender: ResidentMiddleware stores them under the update's user id.
        own = contact.user_id == resident.id or (contact.user_id is None and not self.strict)
        reading = read_contact(contact.phone_number, own)
        if reading.problem is PhoneProblem.not_own:
            await self._say(message, self.texts.not_own())
            return
        phone = reading.phone
        if phone is None and self.keep_digits:
            phone = "".join(ch for ch in contact.phone_number if ch.isdigit())[:20] or None
        elif phone is None:
            await message.answer(_("We could not read a mainland phone number from that contact. Please type the "
                                   "number, for example 13812345678."))
            return
        await self.then(Turn(message, state, session, ctx, resident), phone, contact.first_name)

    async def _on_file(self, query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident) -> None:
        phone = await phone_on_file(session, resident.id)
        if phone is None:
            await stale(query)
            return
        await ack(query)
        await self.then(Turn(message_of(query), state, session, ctx, resident), phone, resident.first_name)

    async def _typed(self, message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
        phone = typed_phone(message.text or "")  # registered with F.text: never empty here
        if phone is None:
            await self._say(message, self.texts.invalid())
            return
        await self.then(Turn(message, state, session, ctx, resident), phone, resident.first_name)

    async def _other(self, message: Message) -> None:
        if self.skip is not None:
            await message.answer(_("Please share your phone number with the button below, type it, or tap Skip."))
        else:
            await message.answer(_("Please share your phone number with the button below, or type it."),
                                 reply_markup=self.keyboard())

    async def _skipped(self, query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident) -> None:
        await ack(query)
        await self.then(Turn(message_of(query), state, session, ctx, resident), None, None)

"""⚡ Outages: current and upcoming outages at the resident's addresses, and district subscriptions (R9).

Addresses are those of the resident's linked accounts; a district subscription adds every notice that
touches that district, for residents who have no account here (tenants, relatives) or want more.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import message_of
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_OUTAGES
from bot.navigation import menu_entry
from core import outages
from core.context import AppContext
from db.models import Resident

router = Router(name=__name__)

MAX_SHOWN = 8  # notices per group; more than that in one area is the console's business, not a chat's


class OutageAction(StrEnum):
    districts = "d"
    toggle = "t"
    done = "x"


class OutageCallback(CallbackData, prefix="outg"):
    action: OutageAction
    i: CallbackInt = -1  # index in the sorted district list
    h: str = ""  # short hash of the district name: a stale or forged index is recognised, never misapplied


def _hash(district: str) -> str:
    return hashlib.sha256(district.encode()).hexdigest()[:6]


def overview_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔔 Notices for a district"), callback_data=OutageCallback(action=OutageAction.districts))
    return kb.as_markup()


def districts_keyboard(districts: list[str], subscribed: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i, d in enumerate(districts):
        mark = "✅ " if d in subscribed else "▫️ "
        kb.button(text=mark + d, callback_data=OutageCallback(action=OutageAction.toggle, i=i, h=_hash(d)))
    kb.button(text=_("✅ Done"), callback_data=OutageCallback(action=OutageAction.done))
    kb.adjust(1)  # one big button per row: easy to hit, also in simple mode
    return kb.as_markup()


def _districts_text(subscribed: list[str]) -> str:
    text = _("Choose the districts whose outage notices you want to receive. Tap a district again to stop.")
    if subscribed:
        text += "\n" + _("Subscribed: {districts}").format(districts="、".join(subscribed))
    return text


@router.message(F.text == MENU_OUTAGES)
@menu_entry(MENU_OUTAGES)
async def on_outages(message: Message, session: AsyncSession, resident: Resident, ctx: AppContext,
                     i18n: I18n) -> None:
    now = ctx.clock.now()
    lang = i18n.current_locale
    found = await outages.resident_outages(session, resident_id=resident.id, now=now)
    if not found.addresses and not found.districts:
        await message.answer(
            _("I do not know your address yet, so I cannot tell which outages concern you. "
              "Link your account under “💳 Balance & top-up”, or choose a district below to receive its notices."),
            reply_markup=overview_keyboard(),
        )
        return
    if not found.current and not found.upcoming:
        head = _("✅ There is no current or planned outage at your addresses.")
    else:
        head = _("Outages at your addresses: {current} now, {upcoming} planned.").format(
            current=len(found.current), upcoming=len(found.upcoming))
    if found.districts:
        head += "\n" + _("You also receive the notices of: {districts}").format(districts="、".join(found.districts))
    for o in found.current[:MAX_SHOWN]:
        await message.answer(outages.outage_text(o, lang, now=now, translator=ctx.translator))
    for o in found.upcoming[:MAX_SHOWN]:
        await message.answer(outages.outage_text(o, lang, now=now, translator=ctx.translator))
    await message.answer(head, reply_markup=overview_keyboard())


@router.callback_query(OutageCallback.filter(F.action == OutageAction.districts))
async def on_districts(query: CallbackQuery, session: AsyncSession, resident: Resident) -> None:
    districts = await outages.known_districts(session)
    subscribed = await outages.subscriptions(session, resident.id)
    await query.answer()
    await message_of(query).answer(_districts_text(subscribed), reply_markup=districts_keyboard(districts, subscribed))


@router.callback_query(OutageCallback.filter(F.action == OutageAction.toggle))
async def on_toggle(query: CallbackQuery, callback_data: OutageCallback, session: AsyncSession, resident: Resident,
                    ctx: AppContext) -> None:
    districts = await outages.known_districts(session)
    if not 0 <= callback_data.i < len(districts) or _hash(districts[callback_data.i]) != callback_data.h:
        # An old keyboard (the district list changed) or forged data: change nothing, show a fresh list.
        subscribed = await outages.subscriptions(session, resident.id)
        await query.answer(_("This list was out of date; here is the current one."))
        await message_of(query).answer(_districts_text(subscribed),
                                       reply_markup=districts_keyboard(districts, subscribed))
        return
    district = districts[callback_data.i]
    on = await outages.toggle_subscription(session, resident_id=resident.id, district=district, now=ctx.clock.now())
    note = _("You will receive outage notices for {district}.") if on else \
        _("You will no longer receive outage notices for {district}.")
    await query.answer(note.format(district=district))
    subscribed = await outages.subscriptions(session, resident.id)
    message = message_of(query)
    try:
        await message.edit_text(_districts_text(subscribed), reply_markup=districts_keyboard(districts, subscribed))
    except TelegramBadRequest:  # message too old to edit: send a fresh one
        await message.answer(_districts_text(subscribed), reply_markup=districts_keyboard(districts, subscribed))


@router.callback_query(OutageCallback.filter(F.action == OutageAction.done))
async def on_done(query: CallbackQuery, session: AsyncSession, resident: Resident) -> None:
    subscribed = await outages.subscriptions(session, resident.id)
    await query.answer()
    text = _("Saved. You receive the notices of: {districts}").format(districts="、".join(subscribed)) \
        if subscribed else _("Saved. You are not subscribed to any district.")
    message = message_of(query)
    try:
        await message.edit_text(text)
    except TelegramBadRequest:
        await message.answer(text)

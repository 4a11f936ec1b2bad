"""🧮 Water bill calculator (R13 tiered prices): a button flow, and free text such as
"250 m³ a year for 6 people" / "六口人一年用水320吨". Prices and the household rule come from
core/data/tariffs.yaml; this module only asks and shows.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import TariffAction, TariffCallback
from bot.forms.buttons import message_of, stale
from bot.keyboards.guides import TopicActionCallback
from core import ledger, tariffs
from core.accounts import format_quantity
from db.enums import Utility
from knowledge.models import Action

router = Router(name=__name__)

VOLUME_PRESETS_M3 = (150, 216, 250, 300, 400)
MAX_VOLUME_M3 = 100_000  # a household cannot use more; bigger numbers are typing mistakes


class TariffForm(StatesGroup):
    household = State()
    volume = State()


def tariff_button() -> InlineKeyboardButton:
    """The calculator entry for other features' keyboards."""
    return InlineKeyboardButton(text=_("🧮 Water bill calculator"),
                                callback_data=TariffCallback(action=TariffAction.start).pack())


def household_keyboard() -> InlineKeyboardMarkup:
    book = tariffs.load_tariffs()
    base = book.water.base_household
    kb = InlineKeyboardBuilder()
    kb.button(text=_("1–{base} people").format(base=base),
              callback_data=TariffCallback(action=TariffAction.household, household=base))
    for n in range(base + 1, base + 5):
        kb.button(text=_("{n} people").format(n=n), callback_data=TariffCallback(action=TariffAction.household,
                                                                                 household=n))
    kb.button(text=_("More: type the number"), callback_data=TariffCallback(action=TariffAction.type_household))
    kb.adjust(1, 2, 2, 1)
    return kb.as_markup()


def volume_keyboard(household: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for m3 in VOLUME_PRESETS_M3:
        kb.button(text=_("{volume} m³ a year").format(volume=m3),
                  callback_data=TariffCallback(action=TariffAction.quote, household=household, volume=m3))
    kb.button(text=_("Type another amount"),
              callback_data=TariffCallback(action=TariffAction.type_volume, household=household))
    kb.adjust(2, 2, 1, 1)
    return kb.as_markup()


def result_keyboard(household: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔁 Another amount of water"),
              callback_data=TariffCallback(action=TariffAction.household, household=household))
    kb.button(text=_("👨‍👩‍👧 Change household size"), callback_data=TariffCallback(action=TariffAction.start))
    kb.adjust(1)
    return kb.as_markup()


def quote_text(quote: tariffs.WaterQuote, lang: str, *, assumed_household: bool = False,
               monthly: bool = False) -> str:
    """The R13 breakdown: tier by tier, total per year and per month, and what the prices include."""
    book = tariffs.load_tariffs()
    fen = ledger.format_fen
    volume = format_quantity(quote.volume_milli, Utility.water, lang)
    lines = [_("🧮 <b>Water bill at tiered prices</b>"),
             _("Household: {n} registered people · Use: {volume} a year").format(n=quote.household, volume=volume)]
    if monthly:
        lines.append(_("(your monthly use × 12)"))
    bounds = [b for b in quote.boundaries if b is not None]
    lines.append(_("Tier boundaries for this household: {b1} m³ and {b2} m³ a year").format(
        b1=bounds[0], b2=bounds[1]) if len(bounds) >= 2 else "")
    for line in quote.lines:
        lines.append(_("Tier {tier}: {volume} × {price} = {amount}").format(
            tier=line.tier, volume=format_quantity(line.volume_milli, Utility.water, lang),
            price=fen(line.price_fen, lang) + "/m³", amount=fen(line.amount_fen, lang)))
    total = quote.total_fen
    lines.append(_("<b>Total: {total} a year</b> (about {monthly} a month)").format(
        total=fen(total, lang), monthly=fen((total + 6) // 12, lang)))
    lines.append(_("Prices include the water-resource fee ({resource}/m³) and the sewage fee ({sewage}/m³).").format(
        resource=fen(book.water.resource_fee_fen, lang), sewage=fen(book.water.sewage_fee_fen, lang)))
    if assumed_household:
        lines.append(_("I assumed a household of up to {base} registered people. With more people every boundary "
                       "is higher: tap “Change household size”.").format(base=book.water.base_household))
    elif quote.household > book.water.base_household:
        lines.append(_("The higher boundaries apply once your household size is recorded with the water company "
                       "(see the guide on tiered prices for larger households)."))
    return "\n".join(line for line in lines if line)


async def _ask_household(message: Message, state: FSMContext) -> None:
    await state.set_state(TariffForm.household)
    await message.answer(_("<b>Water bill calculator</b>\nHow many people are registered in your household "
                           "(household register)? Choose, or type the number."), reply_markup=household_keyboard())


async def _ask_volume(message: Message, state: FSMContext, household: int) -> None:
    await state.set_state(TariffForm.volume)
    await state.update_data(household=household)
    await message.answer(_("How much water does your household use in a year? Choose, or type it, e.g. 250, "
                           "or “20 a month”. Your bills show the use of each month."),
                         reply_markup=volume_keyboard(household))


def _valid(household: int, volume_milli: int) -> bool:
    return 1 <= household <= tariffs.load_tariffs().water.max_household and 0 < volume_milli <= MAX_VOLUME_M3 * 1000


@router.message(Command("tariff"))
@router.callback_query(TariffCallback.filter(F.action == TariffAction.start))
@router.callback_query(TopicActionCallback.filter(F.action == Action.tariff_calculator))
async def on_start(event: Message | CallbackQuery, state: FSMContext) -> None:
    message = event if isinstance(event, Message) else message_of(event)
    if isinstance(event, CallbackQuery):
        await event.answer()
    await state.clear()
    await _ask_household(message, state)


@router.callback_query(TariffCallback.filter(F.action == TariffAction.household))
async def on_household(query: CallbackQuery, callback_data: TariffCallback, state: FSMContext) -> None:
    if not 1 <= callback_data.household <= tariffs.load_tariffs().water.max_household:
        await stale(query)
        return
    await query.answer()
    await _ask_volume(message_of(query), state, callback_data.household)


@router.callback_query(TariffCallback.filter(F.action == TariffAction.type_household))
async def on_type_household(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(TariffForm.household)
    await message_of(query).answer(_("Please type how many people are registered in your household, e.g. 7."))


@router.callback_query(TariffCallback.filter(F.action == TariffAction.type_volume))
async def on_type_volume(query: CallbackQuery, callback_data: TariffCallback, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(TariffForm.volume)
    await state.update_data(household=callback_data.household or tariffs.load_tariffs().water.base_household)
    await message_of(query).answer(_("Please type the yearly use in m³ (1 m³ = 1 tonne), e.g. 250, or “20 a month”."))


@router.callback_query(TariffCallback.filter(F.action == TariffAction.quote))
async def on_quote(query: CallbackQuery, callback_data: TariffCallback, state: FSMContext, i18n: I18n) -> None:
    if not _valid(callback_data.household, callback_data.volume * 1000):
        await stale(query)
        return
    await query.answer()
    await state.clear()
    quote = tariffs.quote_water(callback_data.volume * 1000, callback_data.household)
    await message_of(query).answer(quote_text(quote, i18n.current_locale),
                                   reply_markup=result_keyboard(quote.household))


@router.message(TariffForm.household, F.text)
async def on_household_typed(message: Message, state: FSMContext) -> None:
    household = tariffs.parse_household((message.text or "")[:100])  # F.text: never empty here
    limit = tariffs.load_tariffs().water.max_household
    if household is None or not 1 <= household <= limit:
        await message.answer(_("Please type a number of people from 1 to {max}, or send /cancel.").format(max=limit))
        return
    await _ask_volume(message, state, household)


@router.message(TariffForm.volume, F.text)
async def on_volume_typed(message: Message, state: FSMContext, i18n: I18n) -> None:
    parsed = tariffs.parse_volume(message.text or "")  # F.text: never empty here
    household = (await state.get_data()).get("household") or tariffs.load_tariffs().water.base_household
    if parsed is None or not _valid(household, parsed[0]):
        await message.answer(_("Please type the yearly use as a number of m³, e.g. 250 (or “20 a month”), "
                               "up to {max} m³. Send /cancel to stop.").format(max=MAX_VOLUME_M3))
        return
    await state.clear()
    quote = tariffs.quote_water(parsed[0], household)
    await message.answer(quote_text(quote, i18n.current_locale, monthly=parsed[1]),
                         reply_markup=result_keyboard(household))


@router.message(StateFilter(TariffForm.household, TariffForm.volume))
async def on_form_other(message: Message) -> None:
    await message.answer(_("Please answer with a number, or send /cancel."))


def _tariff_question(message: Message) -> bool | dict[str, Any]:
    query = tariffs.parse_tariff_question(message.text or "")
    return {"tariff_query": query} if query is not None else False


@router.message(StateFilter(None), F.text, _tariff_question)
async def on_free_text(message: Message, tariff_query: tariffs.TariffQuery, i18n: I18n) -> None:
    """"250 m³ a year for 6 people": answered at once, before the question matcher."""
    book = tariffs.load_tariffs()
    household = tariff_query.household or book.water.base_household
    volume_milli = tariff_query.volume_milli or 0
    if not _valid(household, volume_milli):
        await message.answer(_("The calculator works for households of 1 to {max} registered people and up to "
                               "{volume} m³ a year. Tap /tariff to enter your figures.").format(
            max=book.water.max_household, volume=MAX_VOLUME_M3))
        return
    quote = tariffs.quote_water(volume_milli, household)
    await message.answer(quote_text(quote, i18n.current_locale, assumed_household=tariff_query.household is None,
                                    monthly=tariff_query.monthly),
                         reply_markup=result_keyboard(household))

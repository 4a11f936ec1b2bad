"""🛠 Fault reports (R8, R20): category, place, extent, symptom, photos, contact, summary, ticket number.

A gas leak gets the safety instructions and the emergency line before any other question, then only the
questions the crew needs (place and phone), and an emergency ticket. A fault the resident already reported
at the same place is added to the open ticket; one an outage in progress explains is answered with the
outage notice (the resident may still report it as something else). The ticket is committed before its
number is shown, and the form's idempotency key (fixed when it starts, also carried by the Submit button)
means a double tap, a retried update or a second device never files two tickets.

The place, description, photos, phone and summary are the form kit's steps (bot/forms), declared at the end.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Turn, install
from bot.forms.buttons import ack, message_of, stale
from bot.forms.confirm import ConfirmStep
from bot.forms.media import DescribeStep, DescribeTexts, PhotosStep
from bot.forms.phone import PhoneStep, mask_phone
from bot.forms.place import AddressStep, DistrictStep
from bot.forms.safety import gas_warning, safety_text
from bot.keyboards.menu import MENU_FAULT, main_menu
from bot.keyboards.requests import Form, category_label, extent_label, nav_buttons, nav_keyboard, per_locale
from bot.middlewares.forms import TOUCHED
from bot.navigation import menu_entry, show_menu
from core import responsibility, tickets
from core.context import AppContext
from core.safety import detect_emergency
from core.tickets import MAX_ATTACHMENTS, MAX_DESCRIPTION, SUPPLY_CATEGORIES, UTILITY_CATEGORIES, Extent, FaultCategory
from db.enums import Utility
from db.models import Resident, UtilityAccount

router = Router(name=__name__)


class FaultForm(StatesGroup):
    category = State()
    location = State()
    district = State()
    outage = State()
    extent = State()
    description = State()
    photos = State()
    contact = State()
    confirm = State()


install(router, FaultForm, form=Form.fault, cancelled=lambda: _("Cancelled. Nothing was submitted."))


class Act(StrEnum):
    utility = "u"
    category = "c"
    account = "a"
    district = "d"
    outage_stop = "os"
    outage_go = "og"
    extent = "x"
    phone_on_file = "p"
    submit = "ok"
    not_ours = "no"  # R8: a fault that is not the utility's responsibility


class FaultCallback(CallbackData, prefix="flt"):
    act: Act
    v: str = ""


# --- texts and keyboards ------------------------------------------------------------------------------------


def utility_label(utility: Utility) -> str:
    return {Utility.gas: _("🔥 Gas"), Utility.water: _("💧 Water"), Utility.power: _("⚡ Power")}[utility]


@per_locale
def first_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🚨 I smell gas / gas leak"), callback_data=FaultCallback(act=Act.category, v="gas_leak"))
    for u in (Utility.gas, Utility.water, Utility.power):
        kb.button(text=utility_label(u), callback_data=FaultCallback(act=Act.utility, v=u.value))
    nav_buttons(kb, Form.fault)
    kb.adjust(1, 3, 1)
    return kb.as_markup()


@per_locale
def categories_keyboard(utility: Utility) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for c in UTILITY_CATEGORIES[utility]:
        kb.button(text=category_label(c), callback_data=FaultCallback(act=Act.category, v=f"{utility.value}.{c.value}"))
    kb.button(text=_(responsibility.BUTTONS[responsibility.boundary_for(utility)]),
              callback_data=FaultCallback(act=Act.not_ours, v=utility.value))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    return kb.as_markup()


@per_locale
def extent_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for e in Extent:
        kb.button(text=extent_label(e), callback_data=FaultCallback(act=Act.extent, v=e.value))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    return kb.as_markup()


def first_question(ctx: AppContext, lang: str | None) -> str:
    """The first question; R20: what to do about a gas smell, with the emergency line, comes before it."""
    return (gas_warning(ctx, lang) + "\n\n" + _("🛠 <b>Report a fault</b>\nWhat is the problem? If you smell gas, "
                                                "tap the first button now."))


# --- category -----------------------------------------------------------------------------------------------


@router.message(F.text == MENU_FAULT)
@menu_entry(MENU_FAULT)
async def on_fault(message: Message, state: FSMContext, ctx: AppContext, resident: Resident) -> None:
    await state.clear()
    await state.set_state(FaultForm.category)
    await state.set_data({"key": uuid.uuid4().hex, TOUCHED: ctx.clock.now().timestamp()})
    await message.answer(first_question(ctx, resident.language), reply_markup=first_keyboard())


@router.callback_query(FaultForm.category, FaultCallback.filter(F.act == Act.utility))
async def on_utility(query: CallbackQuery, callback_data: FaultCallback) -> None:
    try:
        utility = Utility(callback_data.v)
    except ValueError:
        await stale(query)
        return
    await query.answer()
    await message_of(query).edit_text(_("{utility}: what is wrong?").format(utility=utility_label(utility)),
                                      reply_markup=categories_keyboard(utility))


@router.callback_query(FaultForm.category, FaultCallback.filter(F.act == Act.not_ours))
async def on_not_ours(query: CallbackQuery, callback_data: FaultCallback) -> None:
    """R8: explain whose it is and where to turn; the resident may still report it to us."""
    try:
        utility = Utility(callback_data.v)
    except ValueError:
        await stale(query)
        return
    await ack(query)
    kb = InlineKeyboardBuilder()
    kb.button(text=_(responsibility.REPORT_ANYWAY),
              callback_data=FaultCallback(act=Act.category, v=f"{utility.value}.{FaultCategory.other.value}"))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    await message_of(query).answer(_(responsibility.EXPLANATIONS[responsibility.boundary_for(utility)]),
                                   reply_markup=kb.as_markup())


@router.callback_query(FaultForm.category, FaultCallback.filter(F.act == Act.category))
async def on_category(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext, session: AsyncSession,
                      ctx: AppContext, resident: Resident) -> None:
    utility_value, _sep, category_value = callback_data.v.rpartition(".")
    try:
        category = FaultCategory(category_value)
        utility = Utility(utility_value) if utility_value else Utility.gas
    except ValueError:
        await stale(query)
        return
    if category not in UTILITY_CATEGORIES[utility]:
        await stale(query)
        return
    await ack(query)
    await _category_chosen(Turn(message_of(query), state, session, ctx, resident), utility, category)


@router.message(FaultForm.category)
async def on_category_other(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                            resident: Resident) -> None:
    # Typed instead of tapped: a gas smell must never wait for the right button (core.safety decides).
    if detect_emergency(message.text or message.caption) is not None:
        await _category_chosen(Turn(message, state, session, ctx, resident), Utility.gas, FaultCategory.gas_leak)
        return
    await message.answer(_("Please choose with the buttons above. If you smell gas, leave the place and call the gas "
                           "emergency line from outside."), reply_markup=first_keyboard())


async def _category_chosen(turn: Turn, utility: Utility, category: FaultCategory) -> None:
    await turn.state.update_data(utility=utility.value, category=category.value)
    if category is FaultCategory.gas_leak:
        # R20: safety first, before any other question.
        await turn.message.answer(safety_text(turn.ctx, turn.lang))
    else:
        await turn.message.answer(_("Problem: {category}").format(category=category_label(category)))
    await address.ask(turn)


# --- place --------------------------------------------------------------------------------------------------


async def _account_chosen(turn: Turn, acc: UtilityAccount) -> None:
    await _place_known(turn, tickets.Place(account_id=acc.id, address=tickets.account_address(acc),
                                           district=acc.district, street=acc.street, building=acc.building))


async def _location_shared(turn: Turn, latitude: float, longitude: float) -> None:
    await turn.state.update_data(place={"latitude": latitude, "longitude": longitude})
    await district.ask(turn, _("📍 Location received."))


async def _address_typed(turn: Turn, text: str) -> None:
    districts = await tickets.service_districts(turn.session)
    found = next((d for d in districts if d in text), None)
    if found is None:
        await turn.state.update_data(place={"address": text})
        await district.ask(turn)
        return
    await _place_known(turn, tickets.Place(address=text, district=found))


async def _district_chosen(turn: Turn, chosen: str | None) -> None:
    place = tickets.Place(**(await turn.state.get_data()).get("place", {}))
    place.district = chosen
    await _place_known(turn, place)


async def _place_known(turn: Turn, place: tickets.Place) -> None:
    await turn.state.update_data(place=place.as_fields())
    data = await turn.state.get_data()
    category = FaultCategory(data["category"])
    if category in SUPPLY_CATEGORIES and place.district:
        # R8: is this a fault we already know about (an outage in progress)?
        now = turn.ctx.clock.now()
        outages = await tickets.known_outages(turn.session, now=now, utility=Utility(data["utility"]),
                                              district=place.district, street=place.street, building=place.building)
        if outages:
            await turn.state.set_state(FaultForm.outage)
            for outage in outages[:3]:
                await turn.message.answer(tickets.outage_message(outage, turn.lang, now=now))
            kb = InlineKeyboardBuilder()
            kb.button(text=_("👍 Thanks, that explains it"), callback_data=FaultCallback(act=Act.outage_stop))
            kb.button(text=_("🛠 It is a different problem: report it"), callback_data=FaultCallback(act=Act.outage_go))
            kb.adjust(1)
            await turn.message.answer(_("This is a known outage and our crews are already on it, so you do not need "
                                        "to report it. Is your problem something else?"), reply_markup=kb.as_markup())
            return
    await _after_place(turn)


@router.callback_query(FaultForm.outage, FaultCallback.filter(F.act == Act.outage_stop))
async def on_outage_stop(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
    await ack(query)
    await state.clear()
    await show_menu(message_of(query), resident, _("Thank you. No new report was filed; supply should be back by the "
                                                   "estimated time above. We apologise for the inconvenience."))


@router.callback_query(FaultForm.outage, FaultCallback.filter(F.act == Act.outage_go))
async def on_outage_go(query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident) -> None:
    await ack(query)
    await state.update_data(outage_seen=True)
    await _after_place(Turn(message_of(query), state, session, ctx, resident))


async def _after_place(turn: Turn) -> None:
    data = await turn.state.get_data()
    if data["category"] == FaultCategory.gas_leak:
        await contact.ask(turn)  # an emergency: only what the crew needs
        return
    await turn.state.set_state(FaultForm.extent)
    await turn.message.answer(_("How far does the problem reach?"), reply_markup=extent_keyboard())


# --- extent -------------------------------------------------------------------------------------------------


@router.callback_query(FaultForm.extent, FaultCallback.filter(F.act == Act.extent))
async def on_extent(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext,
                    resident: Resident) -> None:
    try:
        extent = Extent(callback_data.v)
    except ValueError:
        await stale(query)
        return
    await ack(query)
    await state.update_data(extent=extent.value)
    await state.set_state(FaultForm.description)
    await message_of(query).answer(
        _("Please describe the problem in a few words: what you see, hear or smell, and since when "
          "(up to {limit} characters). You can also send a photo with a caption.").format(limit=MAX_DESCRIPTION),
        reply_markup=nav_keyboard(Form.fault, skip=resident.guided_mode),
    )


@router.message(FaultForm.extent)
async def on_extent_other(message: Message) -> None:
    await message.answer(_("Please choose one of the buttons above."))


# --- contact, summary, submit -------------------------------------------------------------------------------


async def _contact_known(turn: Turn, phone: str | None, name: str | None) -> None:
    await turn.state.update_data(phone=phone, name=(name or turn.resident.first_name or "")[:128])
    await confirm.show(turn, _("📞 {phone}").format(phone=mask_phone(phone)))


def summary(data: dict[str, Any]) -> str:
    place = data.get("place", {})
    where = place.get("address") or (
        _("Shared location") if place.get("latitude") is not None else "-")
    if place.get("district") and place["district"] not in where:
        where = f"{place['district']} {where}"
    lines = [_("<b>Please check your report</b>"),
             _("Problem: {category}").format(category=category_label(data.get("category"))),
             _("Place: {place}").format(place=tickets.esc(where))]
    if data.get("extent"):
        lines.append(_("Extent: {extent}").format(extent=extent_label(data["extent"])))
    if data.get("description"):
        desc = data["description"]
        lines.append(_("Description: {text}").format(text=tickets.esc(desc[:500] + ("…" if len(desc) > 500 else ""))))
    if data.get("photos"):
        lines.append(_("Photos: {count}").format(count=len(data["photos"])))
    lines.append(_("Phone: {phone}").format(phone=mask_phone(data.get("phone"))))
    return "\n".join(lines)


async def _submit(turn: Turn, data: dict[str, Any]) -> None:
    place = tickets.Place(**data.get("place", {}))
    try:
        outcome = await tickets.file_fault_report(
            turn.session, ctx=turn.ctx, resident=turn.resident, utility=data["utility"], category=data["category"],
            place=place, extent=data.get("extent"), description=data.get("description", ""),
            attachments=data.get("photos", []), contact_name=data.get("name") or None,
            contact_phone=data.get("phone"), idempotency_key=data["key"],
        )
    except tickets.InvalidInput:
        # Nothing is thrown away: the answers stay in the form and the summary comes back to be sent again.
        await turn.message.answer(_("Sorry, we could not register the report as it is. Please check it below and "
                                    "tap Submit again, or Cancel."))
        await turn.message.answer(summary(data), reply_markup=confirm.keyboard(data["key"]))
        return
    await turn.state.clear()
    await turn.message.answer(result_text(outcome, turn.resident), reply_markup=main_menu())


def result_text(outcome: tickets.FaultOutcome, resident: Resident) -> str:
    ticket = outcome.ticket
    deadline = tickets.format_deadline(ticket.deadline_at, resident.language)
    if outcome.linked:
        return _("You have already reported this problem at this place: request <b>{number}</b> is open and being "
                 "handled. We have added your new details to it. We will deal with it by {deadline}.").format(
            number=ticket.number, deadline=deadline)
    if ticket.category == FaultCategory.gas_leak:
        return _("🚨 Emergency repair order <b>{number}</b> has been sent to the repair crew as top priority. "
                 "Keep away from the gas and follow the safety steps above; if you are in danger, call the "
                 "emergency line now. You will get a message here at every step.").format(number=ticket.number)
    return _("✅ Your report is registered.\nNumber: <b>{number}</b> (please keep it)\nWe will deal with it by "
             "{deadline}.\nWhat happens next: the repair team contacts you on the phone number you gave, and you get a "
             "message here at every step. You can follow it in 📋 My requests.").format(
        number=ticket.number, deadline=deadline)


# --- the kit's steps ----------------------------------------------------------------------------------------

address = AddressStep(
    FaultForm.location, form=Form.fault, pick=lambda account_id: FaultCallback(act=Act.account, v=str(account_id)),
    ask=lambda _has: _("📍 Where is the problem? Send your location with the button below, or type the address "
                       "(district, street, building, room)."),
    invalid=lambda: _("Please type the full address (4 to 200 characters), for example “城东区人民路12号3单元502”, "
                      "or send your location."),
    other=lambda: _("Please tap one of your addresses, send your location with the button, or type the address as "
                    "text."),
    on_account=_account_chosen, on_typed=_address_typed, on_location=_location_shared)
district = DistrictStep(
    FaultForm.district, form=Form.fault, districts=tickets.service_districts, not_sure=True,
    pick=lambda name: FaultCallback(act=Act.district, v=name), then=_district_chosen,
    other=lambda: _("Please choose the district with the buttons above (or “Not sure”)."))
contact = PhoneStep(
    FaultForm.contact, _contact_known, on_file=FaultCallback(act=Act.phone_on_file),
    ask=lambda: _("📞 How can the crew reach you? Tap “Share my phone number” or type a phone number."))
photos = PhotosStep(
    FaultForm.photos, form=Form.fault, field="description", then=contact.ask,
    ask=lambda: _("📷 Photos help the crew. Send up to {limit} photos now, or tap Skip.").format(limit=MAX_ATTACHMENTS),
    added=lambda: _("Added to the description. Send photos, or tap Done."))
description = DescribeStep(
    FaultForm.description, field="description", photos=photos, then=photos.ask, skip=contact.ask,
    texts=DescribeTexts(
        not_photo=lambda: _("Please send a photo (not a file of another kind), or describe the problem in text."),
        other=lambda: _("Please describe the problem in text, or send a photo with a caption.")))
confirm = ConfirmStep(
    FaultForm.confirm, form=Form.fault, submit=lambda key: FaultCallback(act=Act.submit, v=key),
    label=lambda: _("✅ Submit"), summary=lambda data, _turn: summary(data), send=_submit, find=tickets.ticket_by_key,
    already=lambda: _("Already submitted as {number}."),
    other=lambda: _("Please tap Submit to send the report, or Cancel."))

address.register(router, pick_filter=FaultCallback.filter(F.act == Act.account))
district.register(router, pick_filter=FaultCallback.filter(F.act == Act.district))
description.register(router)
photos.register(router)
contact.register(router, on_file_filter=FaultCallback.filter(F.act == Act.phone_on_file))
confirm.register(router, submit_filter=FaultCallback.filter(F.act == Act.submit))

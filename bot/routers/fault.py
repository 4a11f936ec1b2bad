"""🛠 Fault reports (R8, R20): category, place, extent, symptom, photos, contact, summary, ticket number.

A gas leak gets the safety instructions and the emergency line before any other question, then only the
questions the crew needs (place and phone), and an emergency ticket. A fault the resident already reported
at the same place is added to the open ticket; one an outage in progress explains is answered with the
outage notice (the resident may still report it as something else). The ticket is committed before its
number is shown, and the form's idempotency key (fixed when it starts, also carried by the Submit button)
means a double tap, a retried update or a second device never files two tickets.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards.menu import MENU_FAULT, main_menu
from bot.keyboards.requests import (
    Form,
    FormNav,
    Nav,
    ack,
    category_label,
    contact_keyboard,
    location_keyboard,
    mask_phone,
    nav_buttons,
    nav_keyboard,
    per_locale,
    photos_added,
    too_long,
)
from bot.middlewares.forms import TOUCHED, StaleFormMiddleware
from bot.routers.start import show_menu
from core import responsibility, tickets
from core.context import AppContext
from core.tickets import MAX_ATTACHMENTS, MAX_DESCRIPTION, SUPPLY_CATEGORIES, UTILITY_CATEGORIES, Extent, FaultCategory
from db.enums import Utility
from db.models import Resident

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


router.message.outer_middleware(StaleFormMiddleware(FaultForm))
router.callback_query.outer_middleware(StaleFormMiddleware(FaultForm))


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


def extent_label(extent: str | None) -> str:
    return {
        Extent.home: _("Only my home"),
        Extent.building: _("The whole building"),
        Extent.area: _("The street or the whole area"),
        Extent.unknown: _("Not sure"),
    }.get(extent or "", "-")


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


def gas_hotline(ctx: AppContext, lang: str | None) -> str:
    """The 24-hour gas emergency number from the knowledge base ("" if it cannot be read)."""
    content = "en" if lang == "en" else "zh"
    try:
        return ctx.catalogue.value("gas_emergency", content) or ""
    except Exception:  # a broken knowledge file must never hold back safety advice
        try:
            from knowledge.loader import load_site

            return load_site(ctx.settings.knowledge_dir / "site.yaml")[content]["gas_emergency"]
        except Exception:
            return ""


def safety_text(ctx: AppContext, lang: str | None) -> str:
    """R20: the leak safety steps and the emergency number, from the knowledge base (content is data)."""
    content = "en" if lang == "en" else "zh"
    steps: list[str] = []
    try:
        topic = ctx.catalogue.get("gas.leak")
        steps = [t.get(content) for t in topic.safety] if topic is not None else []
    except Exception:  # a broken knowledge file must never hold back safety advice
        steps = []
    hotline = gas_hotline(ctx, lang)
    if not steps:
        steps = [_("No flames, no smoking, and do not touch any electrical switch or plug."),
                 _("Open doors and windows; close the valve before the gas meter if you safely can."),
                 _("Leave the building and warn your neighbours by knocking, not ringing."),
                 _("Call the gas emergency line from outside.")]
    lines = "\n".join(f"{i}. {tickets.esc(s)}" for i, s in enumerate(steps, 1))
    call = (_("☎️ Gas emergency line, 24 hours: <b>{hotline}</b>. Call it from outside.").format(hotline=hotline)
            if hotline else _("☎️ Call the gas emergency line from outside."))
    return (_("🚨 <b>Gas leak: do this first</b>") + "\n" + lines + "\n\n" + call + "\n\n"
            + _("When you are safe, answer two quick questions here and we send the repair crew as top priority."))


@per_locale
def extent_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for e in Extent:
        kb.button(text=extent_label(e), callback_data=FaultCallback(act=Act.extent, v=e.value))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    return kb.as_markup()


def districts_keyboard(districts: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for d in districts:
        kb.button(text=d, callback_data=FaultCallback(act=Act.district, v=d))
    kb.button(text=_("Not sure"), callback_data=FaultCallback(act=Act.district, v="-"))
    nav_buttons(kb, Form.fault)
    kb.adjust(2)
    return kb.as_markup()


# --- start --------------------------------------------------------------------------------------------------


def first_question(ctx: AppContext, lang: str | None) -> str:
    """The first question; R20: what to do about a gas smell, with the emergency line, comes before it."""
    hotline = gas_hotline(ctx, lang)
    warning = (_("🚨 If you smell gas: no flames, no switches, open the windows, leave, and call <b>{hotline}</b> "
                 "(24 hours) from outside.").format(hotline=tickets.esc(hotline)) if hotline
               else _("🚨 If you smell gas: no flames, no switches, open the windows, leave, and call the gas "
                      "emergency line from outside."))
    return (warning + "\n\n" + _("🛠 <b>Report a fault</b>\nWhat is the problem? If you smell gas, tap the first "
                                  "button now."))


# Typed instead of tapped at the first question: a gas smell must never wait for the right button.
_GAS_WORDS = ("燃气泄漏", "燃气泄露", "煤气泄漏", "煤气泄露", "漏气", "燃气味", "煤气味", "天然气味", "臭鸡蛋味",
              "gas leak", "smell gas", "smell of gas", "smells of gas", "leaking gas")


def mentions_gas_leak(text: str | None) -> bool:
    low = (text or "").lower()
    return any(w in low for w in _GAS_WORDS)


@router.message(F.text == MENU_FAULT)
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
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer()
    await query.message.edit_text(_("{utility}: what is wrong?").format(utility=utility_label(utility)),
                                  reply_markup=categories_keyboard(utility))


@router.callback_query(FaultForm.category, FaultCallback.filter(F.act == Act.not_ours))
async def on_not_ours(query: CallbackQuery, callback_data: FaultCallback) -> None:
    """R8: explain whose it is and where to turn; the resident may still report it to us."""
    try:
        utility = Utility(callback_data.v)
    except ValueError:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    kb = InlineKeyboardBuilder()
    kb.button(text=_(responsibility.REPORT_ANYWAY),
              callback_data=FaultCallback(act=Act.category, v=f"{utility.value}.{FaultCategory.other.value}"))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    await query.message.answer(_(responsibility.EXPLANATIONS[responsibility.boundary_for(utility)]),
                               reply_markup=kb.as_markup())


@router.callback_query(FaultForm.category, FaultCallback.filter(F.act == Act.category))
async def on_category(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext, session: AsyncSession,
                      ctx: AppContext, resident: Resident) -> None:
    utility_value, _sep, category_value = callback_data.v.rpartition(".")
    try:
        category = FaultCategory(category_value)
        utility = Utility(utility_value) if utility_value else Utility.gas
    except ValueError:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    if category not in UTILITY_CATEGORIES[utility]:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    await _category_chosen(query.message, state, session, ctx, resident, utility, category)


async def _category_chosen(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                           resident: Resident, utility: Utility, category: FaultCategory) -> None:
    await state.update_data(utility=utility.value, category=category.value)
    if category is FaultCategory.gas_leak:
        # R20: safety first, before any other question.
        await message.answer(safety_text(ctx, resident.language))
    else:
        await message.answer(_("Problem: {category}").format(category=category_label(category)))
    await _ask_location(message, state, session, resident)


# --- place --------------------------------------------------------------------------------------------------


async def _ask_location(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await state.set_state(FaultForm.location)
    accounts = await tickets.resident_accounts(session, resident.id)
    data = await state.get_data()
    utility = data.get("utility")
    accounts.sort(key=lambda a: a.utility.value != utility)  # the same utility's address first
    seen: set[str] = set()
    kb = InlineKeyboardBuilder()
    for acc in accounts:
        address = tickets.account_address(acc)
        if address in seen or len(seen) >= 5:
            continue
        seen.add(address)
        kb.button(text=f"🏠 {address}", callback_data=FaultCallback(act=Act.account, v=str(acc.id)))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    await message.answer(_("📍 Where is the problem? Send your location with the button below, or type the address "
                           "(district, street, building, room)."), reply_markup=location_keyboard())
    if seen:
        await message.answer(_("Or tap one of your addresses:"), reply_markup=kb.as_markup())


@router.callback_query(FaultForm.location, FaultCallback.filter(F.act == Act.account))
async def on_account(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext, session: AsyncSession,
                     ctx: AppContext, resident: Resident) -> None:
    accounts = {str(a.id): a for a in await tickets.resident_accounts(session, resident.id)}
    acc = accounts.get(callback_data.v)
    if acc is None:  # not one of this resident's verified accounts (stale or forged)
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    place = tickets.Place(account_id=acc.id, address=tickets.account_address(acc), district=acc.district,
                          street=acc.street, building=acc.building)
    await _place_known(query.message, state, session, ctx, resident, place)


@router.message(FaultForm.location, F.location)
async def on_location(message: Message, state: FSMContext, session: AsyncSession) -> None:
    loc = message.location
    await state.update_data(place={"latitude": loc.latitude, "longitude": loc.longitude})
    await _ask_district(message, state, session, _("📍 Location received."))


@router.message(FaultForm.location, F.text)
async def on_address(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
    text = " ".join(message.text.split())
    if len(text) < 4 or len(text) > 200 or text.startswith("/"):
        await message.answer(_("Please type the full address (4 to 200 characters), for example "
                               "“城东区人民路12号3单元502”, or send your location."))
        return
    districts = await tickets.service_districts(session)
    district = next((d for d in districts if d in text), None)
    if district is None:
        await state.update_data(place={"address": text})
        await _ask_district(message, state, session, None)
        return
    await _place_known(message, state, session, ctx, resident, tickets.Place(address=text, district=district))


@router.message(FaultForm.location)
async def on_location_other(message: Message) -> None:
    await message.answer(_("Please tap one of your addresses, send your location with the button, or type the "
                           "address as text."))


async def _ask_district(message: Message, state: FSMContext, session: AsyncSession, intro: str | None) -> None:
    await state.set_state(FaultForm.district)
    districts = await tickets.service_districts(session)
    text = _("Which district is it in?")
    await message.answer(f"{intro}\n{text}" if intro else text, reply_markup=districts_keyboard(districts))


@router.callback_query(FaultForm.district, FaultCallback.filter(F.act == Act.district))
async def on_district(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext, session: AsyncSession,
                      ctx: AppContext, resident: Resident) -> None:
    district = None if callback_data.v == "-" else callback_data.v
    if district is not None and district not in await tickets.service_districts(session):
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    place = tickets.Place(**(await state.get_data()).get("place", {}))
    place.district = district
    await _place_known(query.message, state, session, ctx, resident, place)


@router.message(FaultForm.district)
async def on_district_other(message: Message) -> None:
    await message.answer(_("Please choose the district with the buttons above (or “Not sure”)."))


async def _place_known(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident, place: tickets.Place) -> None:
    await state.update_data(place=place.as_fields())
    data = await state.get_data()
    category = FaultCategory(data["category"])
    if category in SUPPLY_CATEGORIES and place.district:
        # R8: is this a fault we already know about (an outage in progress)?
        now = ctx.clock.now()
        outages = await tickets.known_outages(session, now=now, utility=Utility(data["utility"]),
                                              district=place.district, street=place.street, building=place.building)
        if outages:
            await state.set_state(FaultForm.outage)
            for outage in outages[:3]:
                await message.answer(tickets.outage_message(outage, resident.language, now=now))
            kb = InlineKeyboardBuilder()
            kb.button(text=_("👍 Thanks, that explains it"), callback_data=FaultCallback(act=Act.outage_stop))
            kb.button(text=_("🛠 It is a different problem: report it"), callback_data=FaultCallback(act=Act.outage_go))
            kb.adjust(1)
            await message.answer(_("This is a known outage and our crews are already on it, so you do not need to "
                                   "report it. Is your problem something else?"), reply_markup=kb.as_markup())
            return
    await _after_place(message, state, session, resident)


@router.callback_query(FaultForm.outage, FaultCallback.filter(F.act == Act.outage_stop))
async def on_outage_stop(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
    await ack(query)
    await state.clear()
    await show_menu(query.message, resident, _("Thank you. No new report was filed; supply should be back by the "
                                               "estimated time above. We apologise for the inconvenience."))


@router.callback_query(FaultForm.outage, FaultCallback.filter(F.act == Act.outage_go))
async def on_outage_go(query: CallbackQuery, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await ack(query)
    await state.update_data(outage_seen=True)
    await _after_place(query.message, state, session, resident)


async def _after_place(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    data = await state.get_data()
    if data["category"] == FaultCategory.gas_leak:
        await _ask_contact(message, state, session, resident)  # an emergency: only what the crew needs
        return
    await state.set_state(FaultForm.extent)
    await message.answer(_("How far does the problem reach?"), reply_markup=extent_keyboard())


# --- extent, symptom, photos --------------------------------------------------------------------------------


@router.callback_query(FaultForm.extent, FaultCallback.filter(F.act == Act.extent))
async def on_extent(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext,
                    resident: Resident) -> None:
    try:
        extent = Extent(callback_data.v)
    except ValueError:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    await state.update_data(extent=extent.value)
    await state.set_state(FaultForm.description)
    await query.message.answer(
        _("Please describe the problem in a few words: what you see, hear or smell, and since when "
          "(up to {limit} characters). You can also send a photo with a caption.").format(limit=MAX_DESCRIPTION),
        reply_markup=nav_keyboard(Form.fault, skip=resident.guided_mode),
    )


@router.message(FaultForm.extent)
async def on_extent_other(message: Message) -> None:
    await message.answer(_("Please choose one of the buttons above."))


def _photo_id(message: Message) -> str | None:
    if message.photo:
        return message.photo[-1].file_id
    doc = message.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        return doc.file_id
    return None


@router.message(FaultForm.description, F.text)
async def on_description(message: Message, state: FSMContext) -> None:
    text = message.text.strip()
    if len(text) > MAX_DESCRIPTION:
        await message.answer(too_long(len(text)))
        return
    await state.update_data(description=text)
    await _ask_photos(message, state)


@router.message(FaultForm.description, F.photo | F.document)
async def on_description_photo(message: Message, state: FSMContext) -> None:
    file_id = _photo_id(message)
    if file_id is None:
        await message.answer(_("Please send a photo (not a file of another kind), or describe the problem in text."))
        return
    caption = (message.caption or "").strip()[:MAX_DESCRIPTION]
    await state.update_data(description=caption, photos=[file_id])
    await state.set_state(FaultForm.photos)
    await message.answer(photos_added(1), reply_markup=nav_keyboard(Form.fault, done=True))


@router.message(FaultForm.description)
async def on_description_other(message: Message) -> None:
    await message.answer(_("Please describe the problem in text, or send a photo with a caption."))


async def _ask_photos(message: Message, state: FSMContext) -> None:
    await state.set_state(FaultForm.photos)
    await message.answer(_("📷 Photos help the crew. Send up to {limit} photos now, or tap Skip.").format(
        limit=MAX_ATTACHMENTS), reply_markup=nav_keyboard(Form.fault, skip=True))


@router.message(FaultForm.photos, F.photo | F.document)
async def on_photo(message: Message, state: FSMContext) -> None:
    file_id = _photo_id(message)
    if file_id is None:
        await message.answer(_("Please send a photo (not a file of another kind), or tap Done."))
        return
    photos = list((await state.get_data()).get("photos", []))
    if len(photos) >= MAX_ATTACHMENTS:
        await message.answer(_("That is the maximum of {limit} photos. Tap Done to continue.").format(
            limit=MAX_ATTACHMENTS), reply_markup=nav_keyboard(Form.fault, done=True))
        return
    photos.append(file_id)
    await state.update_data(photos=photos)
    await message.answer(photos_added(len(photos)), reply_markup=nav_keyboard(Form.fault, done=True))


@router.message(FaultForm.photos, F.text)
async def on_photos_text(message: Message, state: FSMContext) -> None:
    # More words about the problem: add them to the description rather than ignore them.
    data = await state.get_data()
    text = "\n".join(p for p in (data.get("description", ""), message.text.strip()) if p)
    if len(text) > MAX_DESCRIPTION:
        await message.answer(too_long(len(text)))
        return
    await state.update_data(description=text)
    await message.answer(_("Added to the description. Send photos, or tap Done."),
                         reply_markup=nav_keyboard(Form.fault, done=True))


@router.message(FaultForm.photos)
async def on_photos_other(message: Message) -> None:
    await message.answer(_("Please send a photo, or tap Done."), reply_markup=nav_keyboard(Form.fault, done=True))


@router.callback_query(FaultForm.description, FormNav.filter((F.form == Form.fault) & (F.nav == Nav.skip)))
@router.callback_query(FaultForm.photos, FormNav.filter((F.form == Form.fault) & F.nav.in_({Nav.skip, Nav.done})))
async def on_photos_done(query: CallbackQuery, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await ack(query)
    await _ask_contact(query.message, state, session, resident)


# --- contact ------------------------------------------------------------------------------------------------


async def _phone_on_file(session: AsyncSession, resident: Resident) -> str | None:
    for acc in await tickets.resident_accounts(session, resident.id):
        phone = tickets.clean_phone(acc.phone)
        if phone:
            return phone
    return None


async def _ask_contact(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await state.set_state(FaultForm.contact)
    await message.answer(_("📞 How can the crew reach you? Tap “Share my phone number” or type a phone number."),
                         reply_markup=contact_keyboard())
    on_file = await _phone_on_file(session, resident)
    if on_file:
        kb = InlineKeyboardBuilder()
        kb.button(text=_("Use the number on file: {phone}").format(phone=mask_phone(on_file)),
                  callback_data=FaultCallback(act=Act.phone_on_file))
        await message.answer(_("Or use the phone number of your account:"), reply_markup=kb.as_markup())


@router.message(FaultForm.contact, F.contact)
async def on_contact(message: Message, state: FSMContext, ctx: AppContext, resident: Resident) -> None:
    contact = message.contact
    if contact.user_id is not None and contact.user_id != message.from_user.id:
        await message.answer(_("Please share your own number with the button, or type the number."))
        return
    phone = tickets.clean_phone(contact.phone_number)
    if phone is None:
        await message.answer(_("We could not read a mainland phone number from that contact. Please type the "
                               "number, for example 13812345678."))
        return
    await _contact_known(message, state, ctx, resident, phone, contact.first_name)


@router.callback_query(FaultForm.contact, FaultCallback.filter(F.act == Act.phone_on_file))
async def on_phone_on_file(query: CallbackQuery, state: FSMContext, session: AsyncSession, ctx: AppContext,
                           resident: Resident) -> None:
    phone = await _phone_on_file(session, resident)
    if phone is None:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    await _contact_known(query.message, state, ctx, resident, phone, resident.first_name)


@router.message(FaultForm.contact, F.text)
async def on_typed_phone(message: Message, state: FSMContext, ctx: AppContext, resident: Resident) -> None:
    phone = tickets.clean_phone(message.text[:40])
    if phone is None:
        await message.answer(_("That does not look like a phone number. Please type an 11-digit mobile number such "
                               "as 13812345678, or a landline with its area code such as 0512-65231234."))
        return
    await _contact_known(message, state, ctx, resident, phone, resident.first_name)


@router.message(FaultForm.contact)
async def on_contact_other(message: Message) -> None:
    await message.answer(_("Please share your phone number with the button below, or type it."),
                         reply_markup=contact_keyboard())


async def _contact_known(message: Message, state: FSMContext, ctx: AppContext, resident: Resident, phone: str,
                         name: str | None) -> None:
    await state.update_data(phone=phone, name=(name or resident.first_name or "")[:128])
    await state.set_state(FaultForm.confirm)
    data = await state.get_data()
    await message.answer(_("📞 {phone}").format(phone=mask_phone(phone)), reply_markup=main_menu())
    await message.answer(summary(data), reply_markup=confirm_keyboard(data["key"]))


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


def confirm_keyboard(key: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Submit"), callback_data=FaultCallback(act=Act.submit, v=key))
    nav_buttons(kb, Form.fault)
    kb.adjust(1)
    return kb.as_markup()


# --- submit -------------------------------------------------------------------------------------------------


@router.callback_query(FaultForm.confirm, FaultCallback.filter(F.act == Act.submit))
async def on_submit(query: CallbackQuery, callback_data: FaultCallback, state: FSMContext, session: AsyncSession,
                    ctx: AppContext, resident: Resident) -> None:
    data = await state.get_data()
    if callback_data.v != data.get("key"):
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    place = tickets.Place(**data.get("place", {}))
    try:
        outcome = await tickets.file_fault_report(
            session, ctx=ctx, resident=resident, utility=data["utility"], category=data["category"], place=place,
            extent=data.get("extent"), description=data.get("description", ""), attachments=data.get("photos", []),
            contact_name=data.get("name") or None, contact_phone=data.get("phone"), idempotency_key=data["key"],
        )
    except tickets.InvalidInput:
        # Nothing is thrown away: the answers stay in the form and the summary comes back to be sent again.
        await query.message.answer(_("Sorry, we could not register the report as it is. Please check it below and "
                                     "tap Submit again, or Cancel."))
        await query.message.answer(summary(data), reply_markup=confirm_keyboard(data["key"]))
        return
    await state.clear()
    await query.message.answer(result_text(ctx, outcome, resident), reply_markup=main_menu())


def result_text(ctx: AppContext, outcome: tickets.FaultOutcome, resident: Resident) -> str:
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


@router.callback_query(FaultCallback.filter(F.act == Act.submit), StateFilter(None))
async def on_submit_again(query: CallbackQuery, callback_data: FaultCallback, session: AsyncSession,
                          resident: Resident) -> None:
    """The Submit button tapped again after the form ended (second device, slow network)."""
    ticket = await tickets.ticket_by_key(session, callback_data.v) if callback_data.v else None
    if ticket is None or ticket.resident_id != resident.id:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer(_("Already submitted as {number}.").format(number=ticket.number), show_alert=True)


@router.message(FaultForm.confirm)
async def on_confirm_other(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(_("Please tap Submit to send the report, or Cancel."),
                         reply_markup=confirm_keyboard(data["key"]))


@router.message(FaultForm.category)
async def on_category_other(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                            resident: Resident) -> None:
    if mentions_gas_leak(message.text or message.caption):
        await _category_chosen(message, state, session, ctx, resident, Utility.gas, FaultCategory.gas_leak)
        return
    await message.answer(_("Please choose with the buttons above. If you smell gas, leave the place and call the gas "
                           "emergency line from outside."), reply_markup=first_keyboard())


@router.callback_query(StateFilter(FaultForm), FormNav.filter((F.form == Form.fault) & (F.nav == Nav.cancel)))
async def on_cancel(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
    await ack(query)
    await state.clear()
    await show_menu(query.message, resident, _("Cancelled. Nothing was submitted."))

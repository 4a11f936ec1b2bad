"""📅 Home-visit booking (R2): service, address, a day with a free place, a window, phone, confirmation.

The calendar shows only the next 14 working days that still have a free place in the district; the
request is answered by staff within 1 working day. Also here: the resident's answer to a slot staff
proposed (accept / another date / cancel) and rescheduling until the cut-off (18:00 the day before).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
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

from bot.keyboards.calendar import DayCallback, WindowCallback, calendar_keyboard, unpack_day, windows_keyboard
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_VISIT, main_menu
from bot.keyboards.requests import Form, FormNav, Nav, ack, contact_keyboard, mask_phone, nav_buttons, per_locale
from bot.middlewares.forms import TOUCHED, StaleFormMiddleware
from bot.routers.start import show_menu
from core import appointments, ignition, slots, tickets
from core.appointments import SERVICE_LABELS, ProposalAction, format_day, format_window
from core.clock import local
from core.context import AppContext
from db.enums import ServiceType
from db.models import Appointment, Resident

router = Router(name=__name__)


class VisitForm(StatesGroup):
    service = State()
    prerequisites = State()  # R19: ignition only
    address = State()
    district = State()
    day = State()
    window = State()
    phone = State()
    confirm = State()


class RescheduleForm(StatesGroup):
    day = State()
    window = State()


router.message.outer_middleware(StaleFormMiddleware(VisitForm, RescheduleForm))
router.callback_query.outer_middleware(StaleFormMiddleware(VisitForm, RescheduleForm))


class Act(StrEnum):
    service = "s"
    account = "a"
    district = "d"
    phone_on_file = "p"
    submit = "ok"


class VisitCallback(CallbackData, prefix="vst"):
    act: Act
    v: str = ""


class IgnitionCallback(CallbackData, prefix="ign"):
    """R19: the resident's yes/no to one ignition prerequisite."""

    item: ignition.Item
    ok: bool


class ProposalCallback(CallbackData, prefix=appointments.PROPOSAL_PREFIX):
    """Buttons under a proposed slot (built in core.appointments.proposal_callback)."""

    id: CallbackInt
    action: ProposalAction


def stale_text() -> str:
    return _("Sorry, this button is no longer active. Please use the menu below.")


async def _stale(query: CallbackQuery) -> None:
    await query.answer(stale_text(), show_alert=True)


@per_locale
def service_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for s in ServiceType:
        kb.button(text=_(SERVICE_LABELS[s]), callback_data=VisitCallback(act=Act.service, v=s.value))
    nav_buttons(kb, Form.visit)
    kb.adjust(1)
    return kb.as_markup()


# --- start --------------------------------------------------------------------------------------------------


@router.message(F.text == MENU_VISIT)
async def on_visit(message: Message, state: FSMContext, ctx: AppContext) -> None:
    await state.clear()
    await state.set_state(VisitForm.service)
    await state.set_data({"key": uuid.uuid4().hex, TOUCHED: ctx.clock.now().timestamp()})
    await message.answer(_("📅 <b>Book a home visit</b>\nWe answer every request within 1 working day. "
                           "What do you need?"), reply_markup=service_keyboard())


@router.callback_query(VisitForm.service, VisitCallback.filter(F.act == Act.service))
async def on_service(query: CallbackQuery, callback_data: VisitCallback, state: FSMContext, session: AsyncSession,
                     resident: Resident) -> None:
    try:
        service = ServiceType(callback_data.v)
    except ValueError:
        await _stale(query)
        return
    await ack(query)
    await state.update_data(service=service.value, prerequisites={})
    await query.message.answer(_("Service: {service}").format(service=_(SERVICE_LABELS[service])))
    if ignition.needs_prerequisites(service):
        await _ask_prerequisite(query.message, state, ignition.ITEMS[0])
        return
    await _ask_address(query.message, state, session, resident)


# --- R19: ignition prerequisites, one at a time; a "no" is told why and what to do ---------------------------


async def _ask_prerequisite(message: Message, state: FSMContext, item: ignition.Item) -> None:
    await state.set_state(VisitForm.prerequisites)
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Yes, ready"), callback_data=IgnitionCallback(item=item, ok=True))
    kb.button(text=_("❌ No, not yet"), callback_data=IgnitionCallback(item=item, ok=False))
    nav_buttons(kb, Form.visit)
    kb.adjust(2, 1)
    await message.answer(_("🔥 For your safety we turn on the gas only when everything is ready. "
                           "Please confirm ({n}/{total}):\n{question}").format(
        n=ignition.ITEMS.index(item) + 1, total=len(ignition.ITEMS), question=_(ignition.QUESTIONS[item])),
        reply_markup=kb.as_markup())


@router.callback_query(VisitForm.prerequisites, IgnitionCallback.filter())
async def on_prerequisite(query: CallbackQuery, callback_data: IgnitionCallback, state: FSMContext,
                          session: AsyncSession, resident: Resident) -> None:
    answers = dict((await state.get_data()).get("prerequisites") or {})
    missing = ignition.failed(answers)
    if not missing or callback_data.item is not missing[0]:  # an old message's button
        await _stale(query)
        return
    await ack(query)
    if not callback_data.ok:
        await state.clear()
        await show_menu(query.message, resident, _(ignition.BLOCKED).format(
            reason=_(ignition.REASONS[callback_data.item])))
        return
    answers[callback_data.item.value] = True
    await state.update_data(prerequisites=answers)
    if len(missing) > 1:
        await _ask_prerequisite(query.message, state, missing[1])
        return
    await query.message.answer(_("Thank you: everything is ready for the ignition."))
    await _ask_address(query.message, state, session, resident)


@router.message(VisitForm.prerequisites)
async def on_prerequisite_other(message: Message) -> None:
    await message.answer(_("Please answer with the “Yes” or “No” button above."))


@router.message(VisitForm.service)
async def on_service_other(message: Message) -> None:
    await message.answer(_("Please choose the service with the buttons."), reply_markup=service_keyboard())


# --- address and district -----------------------------------------------------------------------------------


async def _ask_address(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await state.set_state(VisitForm.address)
    served = set(await slots.districts(session))
    kb = InlineKeyboardBuilder()
    seen: set[str] = set()
    for acc in await tickets.resident_accounts(session, resident.id):
        address = tickets.account_address(acc)
        if acc.district not in served or address in seen or len(seen) >= 5:
            continue
        seen.add(address)
        kb.button(text=f"🏠 {address}", callback_data=VisitCallback(act=Act.account, v=str(acc.id)))
    nav_buttons(kb, Form.visit)
    kb.adjust(1)
    if seen:
        text = _("🏠 Where should we come? Tap your address or type another one (district, street, building, room).")
    else:
        text = _("🏠 Where should we come? Please type the address (district, street, building, room).")
    await message.answer(text, reply_markup=kb.as_markup())


@router.callback_query(VisitForm.address, VisitCallback.filter(F.act == Act.account))
async def on_account(query: CallbackQuery, callback_data: VisitCallback, state: FSMContext, session: AsyncSession,
                     ctx: AppContext, resident: Resident) -> None:
    acc = {str(a.id): a for a in await tickets.resident_accounts(session, resident.id)}.get(callback_data.v)
    if acc is None:
        await _stale(query)
        return
    await ack(query)
    await state.update_data(address=tickets.account_address(acc), district=acc.district, account_id=acc.id)
    await _ask_day(query.message, state, session, ctx, resident)


@router.message(VisitForm.address, F.text)
async def on_address(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
    text = " ".join(message.text.split())
    if len(text) < 4 or len(text) > 200 or text.startswith("/"):
        await message.answer(_("Please type the full address (4 to 200 characters), for example "
                               "“城东区人民路12号3单元502”."))
        return
    await state.update_data(address=text, account_id=None)
    served = await slots.districts(session)
    district = next((d for d in served if d in text), None)
    if district is None:
        await state.set_state(VisitForm.district)
        kb = InlineKeyboardBuilder()
        for d in served:
            kb.button(text=d, callback_data=VisitCallback(act=Act.district, v=d))
        nav_buttons(kb, Form.visit)
        kb.adjust(2)
        await message.answer(_("Which district is it in?"), reply_markup=kb.as_markup())
        return
    await state.update_data(district=district)
    await _ask_day(message, state, session, ctx, resident)


@router.message(VisitForm.address)
async def on_address_other(message: Message) -> None:
    await message.answer(_("Please type the address as text, or tap one of your addresses."))


@router.callback_query(VisitForm.district, VisitCallback.filter(F.act == Act.district))
async def on_district(query: CallbackQuery, callback_data: VisitCallback, state: FSMContext, session: AsyncSession,
                      ctx: AppContext, resident: Resident) -> None:
    if callback_data.v not in await slots.districts(session):
        await _stale(query)
        return
    await ack(query)
    await state.update_data(district=callback_data.v)
    await _ask_day(query.message, state, session, ctx, resident)


@router.message(VisitForm.district)
async def on_district_other(message: Message) -> None:
    await message.answer(_("Please choose the district with the buttons above."))


# --- day and window (shared by booking and rescheduling) ---------------------------------------------------


async def _ask_day(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                   resident: Resident, *, reschedule: bool = False, intro: str | None = None) -> None:
    district = (await state.get_data())["district"]
    days = await slots.available_days(session, ctx=ctx, district=district, now=ctx.clock.now())
    if not days:
        await state.clear()
        await show_menu(message, resident, _("Sorry, there is no free visit time in {district} in the next 14 working "
                                             "days. Please try again tomorrow or talk to a person.").format(
            district=district))
        return
    await state.set_state(RescheduleForm.day if reschedule else VisitForm.day)
    text = _("📆 Choose a day. Only days with a free place are shown.")
    await message.answer(f"{intro}\n{text}" if intro else text,
                         reply_markup=calendar_keyboard(days, resident.language, big=resident.guided_mode))


_TYPED_DATE = re.compile(r"^(?:(\d{4})[-/.年])?\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")


def parse_typed_date(text: str, today: date) -> date | None:
    """A date typed instead of tapped: 2026-11-24, 11/24, 11月24日."""
    m = _TYPED_DATE.match(text.strip())
    if not m:
        return None
    year = int(m.group(1)) if m.group(1) else today.year
    try:
        return date(year, int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


async def _pick_day(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                    resident: Resident, day: date | None, *, reschedule: bool) -> None:
    data = await state.get_data()
    district = data["district"]
    now = ctx.clock.now()
    if day is not None and day <= local(now).date():
        await message.answer(_("That date has already passed (or is today). Please choose one of the days shown."))
        return
    free = await slots.free_windows(session, district=district, day=day) if day else []
    if day is None or day not in slots.bookable_days(ctx, now) or not free:
        await message.answer(_("There is no free visit time on that day. Please choose one of the days shown."))
        await _ask_day(message, state, session, ctx, resident, reschedule=reschedule)
        return
    await state.update_data(day=day.isoformat())
    await state.set_state(RescheduleForm.window if reschedule else VisitForm.window)
    await message.answer(_("{day}: choose a time window.").format(day=format_day(day, resident.language)),
                         reply_markup=windows_keyboard(free))


@router.callback_query(StateFilter(VisitForm.day, RescheduleForm.day), DayCallback.filter())
async def on_day(query: CallbackQuery, callback_data: DayCallback, state: FSMContext, session: AsyncSession,
                 ctx: AppContext, resident: Resident, raw_state: str | None) -> None:
    day = unpack_day(callback_data.d)
    if day is None:
        await _stale(query)
        return
    await ack(query)
    await _pick_day(query.message, state, session, ctx, resident, day,
                    reschedule=raw_state == RescheduleForm.day.state)


@router.message(StateFilter(VisitForm.day, RescheduleForm.day), F.text)
async def on_typed_day(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident, raw_state: str | None) -> None:
    day = parse_typed_date(message.text, local(ctx.clock.now()).date())
    if day is None:
        await message.answer(_("Please choose a day with the buttons above."))
        return
    await _pick_day(message, state, session, ctx, resident, day, reschedule=raw_state == RescheduleForm.day.state)


@router.message(StateFilter(VisitForm.day, RescheduleForm.day))
async def on_day_other(message: Message) -> None:
    await message.answer(_("Please choose a day with the buttons above."))


@router.callback_query(StateFilter(VisitForm.window, RescheduleForm.window), WindowCallback.filter())
async def on_window(query: CallbackQuery, callback_data: WindowCallback, state: FSMContext, session: AsyncSession,
                    ctx: AppContext, resident: Resident, raw_state: str | None) -> None:
    data = await state.get_data()
    day = date.fromisoformat(data["day"])
    free = {w.window for w in await slots.free_windows(session, district=data["district"], day=day)}
    if callback_data.w not in free:
        await query.answer(_("Sorry, that time has just been taken. Please choose another."), show_alert=True)
        return
    await ack(query)
    await state.update_data(window=callback_data.w)
    if raw_state == RescheduleForm.window.state:
        await _finish_reschedule(query.message, state, session, ctx, resident)
        return
    if data.get("phone"):  # choosing again after a race: the phone given before still stands
        await _confirm(query.message, state, resident, data["phone"])
        return
    await _ask_phone(query.message, state, session, resident)


@router.message(StateFilter(VisitForm.window, RescheduleForm.window))
async def on_window_other(message: Message) -> None:
    await message.answer(_("Please choose a time window with the buttons above."))


# --- phone and confirmation ---------------------------------------------------------------------------------


async def _phone_on_file(session: AsyncSession, resident: Resident) -> str | None:
    for acc in await tickets.resident_accounts(session, resident.id):
        phone = tickets.clean_phone(acc.phone)
        if phone:
            return phone
    return None


async def _ask_phone(message: Message, state: FSMContext, session: AsyncSession, resident: Resident) -> None:
    await state.set_state(VisitForm.phone)
    await message.answer(_("📞 Which phone number should our staff call about the visit? Tap “Share my phone "
                           "number” or type it."), reply_markup=contact_keyboard())
    on_file = await _phone_on_file(session, resident)
    if on_file:
        kb = InlineKeyboardBuilder()
        kb.button(text=_("Use the number on file: {phone}").format(phone=mask_phone(on_file)),
                  callback_data=VisitCallback(act=Act.phone_on_file))
        await message.answer(_("Or use the phone number of your account:"), reply_markup=kb.as_markup())


@router.message(VisitForm.phone, F.contact)
async def on_contact(message: Message, state: FSMContext, resident: Resident) -> None:
    contact = message.contact
    if contact.user_id is not None and contact.user_id != message.from_user.id:
        await message.answer(_("Please share your own number with the button, or type the number."))
        return
    phone = tickets.clean_phone(contact.phone_number)
    if phone is None:
        await message.answer(_("We could not read a mainland phone number from that contact. Please type the "
                               "number, for example 13812345678."))
        return
    await _confirm(message, state, resident, phone)


@router.callback_query(VisitForm.phone, VisitCallback.filter(F.act == Act.phone_on_file))
async def on_phone_on_file(query: CallbackQuery, state: FSMContext, session: AsyncSession,
                           resident: Resident) -> None:
    phone = await _phone_on_file(session, resident)
    if phone is None:
        await _stale(query)
        return
    await ack(query)
    await _confirm(query.message, state, resident, phone)


@router.message(VisitForm.phone, F.text)
async def on_typed_phone(message: Message, state: FSMContext, resident: Resident) -> None:
    phone = tickets.clean_phone(message.text[:40])
    if phone is None:
        await message.answer(_("That does not look like a phone number. Please type an 11-digit mobile number such "
                               "as 13812345678, or a landline with its area code such as 0512-65231234."))
        return
    await _confirm(message, state, resident, phone)


@router.message(VisitForm.phone)
async def on_phone_other(message: Message) -> None:
    await message.answer(_("Please share your phone number with the button below, or type it."),
                         reply_markup=contact_keyboard())


def summary(data: dict[str, Any], lang: str | None) -> str:
    return "\n".join([
        _("<b>Please check your visit request</b>"),
        _("Service: {service}").format(service=_(SERVICE_LABELS[ServiceType(data["service"])])),
        _("Address: {address}").format(address=tickets.esc(data["address"])),
        _("Day: {day}").format(day=format_day(date.fromisoformat(data["day"]), lang)),
        _("Time: {window}").format(window=format_window(data["window"])),
        _("Phone: {phone}").format(phone=mask_phone(data.get("phone"))),
    ])


def confirm_keyboard(key: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Send the request"), callback_data=VisitCallback(act=Act.submit, v=key))
    nav_buttons(kb, Form.visit)
    kb.adjust(1)
    return kb.as_markup()


async def _confirm(message: Message, state: FSMContext, resident: Resident, phone: str) -> None:
    await state.update_data(phone=phone)
    await state.set_state(VisitForm.confirm)
    data = await state.get_data()
    await message.answer(_("📞 {phone}").format(phone=mask_phone(phone)), reply_markup=main_menu())
    await message.answer(summary(data, resident.language), reply_markup=confirm_keyboard(data["key"]))


@router.callback_query(VisitForm.confirm, VisitCallback.filter(F.act == Act.submit))
async def on_submit(query: CallbackQuery, callback_data: VisitCallback, state: FSMContext, session: AsyncSession,
                    ctx: AppContext, resident: Resident) -> None:
    data = await state.get_data()
    if callback_data.v != data.get("key"):
        await _stale(query)
        return
    await ack(query)
    try:
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=resident, service=data["service"], district=data["district"],
            address=data["address"], day=date.fromisoformat(data["day"]), window=data["window"],
            contact_phone=data.get("phone"), account_id=data.get("account_id"), idempotency_key=data["key"],
            prerequisites=data.get("prerequisites"),
        )
    except appointments.SlotUnavailable:
        # Taken by someone else meanwhile: keep everything, choose again.
        await _ask_day(query.message, state, session, ctx, resident,
                       intro=_("Sorry, that time was taken just now. Your other answers are kept."))
        return
    except tickets.InvalidInput:
        await state.clear()
        await show_menu(query.message, resident, _("Sorry, something in the request is not valid. Please start "
                                                    "again from the menu."))
        return
    await state.clear()
    await query.message.answer(booked_text(appt, resident.language), reply_markup=main_menu())


def booked_text(appt: Appointment, lang: str | None) -> str:
    return _("📅 Your visit request <b>{number}</b> is registered: {service}, {day}, {window}.\nWe will confirm it "
             "by {respond_by}. You can cancel or change it in 📋 My requests until {cutoff}.").format(
        number=appt.number, service=_(SERVICE_LABELS[ServiceType(appt.service)]), day=format_day(appt.day, lang),
        window=format_window(appt.window), respond_by=tickets.format_deadline(appt.respond_by, lang),
        cutoff=tickets.format_deadline(appointments.cutoff(appt.day), lang, with_time=True))


@router.callback_query(VisitCallback.filter(F.act == Act.submit), StateFilter(None))
async def on_submit_again(query: CallbackQuery, callback_data: VisitCallback, session: AsyncSession,
                          resident: Resident) -> None:
    appt = await appointments.appointment_by_key(session, callback_data.v) if callback_data.v else None
    if appt is None or appt.resident_id != resident.id:
        await _stale(query)
        return
    await query.answer(_("Already sent as {number}.").format(number=appt.number), show_alert=True)


@router.message(VisitForm.confirm)
async def on_confirm_other(message: Message, state: FSMContext) -> None:
    await message.answer(_("Please tap “Send the request”, or Cancel."),
                         reply_markup=confirm_keyboard((await state.get_data())["key"]))


@router.callback_query(StateFilter(VisitForm, RescheduleForm),
                       FormNav.filter((F.form == Form.visit) & (F.nav == Nav.cancel)))
async def on_cancel(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
    await ack(query)
    await state.clear()
    await show_menu(query.message, resident, _("Cancelled. Nothing was changed."))


# --- rescheduling and answers to a proposal -------------------------------------------------------------------


async def start_reschedule(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                           resident: Resident, appt: Appointment) -> None:
    """Choose another day and window for an open visit (from 📋 My requests or a proposal)."""
    if not appointments.resident_can_change(appt, ctx.clock.now()):
        await message.answer(_("This visit can no longer be changed here (changes are possible until 18:00 the day "
                               "before). Please talk to a person."))
        return
    await state.clear()
    await state.set_data({"appt_id": appt.id, "district": appt.district, TOUCHED: ctx.clock.now().timestamp()})
    await _ask_day(message, state, session, ctx, resident, reschedule=True,
                   intro=_("Changing visit {number}.").format(number=appt.number))


async def _finish_reschedule(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                             resident: Resident) -> None:
    data = await state.get_data()
    appt = await appointments.resident_appointment(session, appt_id=int(data["appt_id"]), resident_id=resident.id)
    if appt is None:
        await state.clear()
        await show_menu(message, resident, stale_text())
        return
    try:
        appt = await appointments.reschedule(session, ctx=ctx, appt=appt, resident=resident,
                                             day=date.fromisoformat(data["day"]), window=data["window"])
    except appointments.SlotUnavailable:
        await _ask_day(message, state, session, ctx, resident, reschedule=True,
                       intro=_("Sorry, that time was taken just now."))
        return
    except (appointments.TooLate, tickets.TransitionError):
        await state.clear()
        await show_menu(message, resident, _("This visit can no longer be changed here (changes are possible until "
                                             "18:00 the day before). Please talk to a person."))
        return
    await state.clear()
    await message.answer(_("📅 Visit {number} moved to {day}, {window}. We will confirm the new time by "
                           "{respond_by}.").format(number=appt.number, day=format_day(appt.day, resident.language),
                                                   window=format_window(appt.window),
                                                   respond_by=tickets.format_deadline(appt.respond_by,
                                                                                      resident.language)),
                         reply_markup=main_menu())


@router.callback_query(ProposalCallback.filter())
async def on_proposal(query: CallbackQuery, callback_data: ProposalCallback, state: FSMContext,
                      session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    appt = await appointments.resident_appointment(session, appt_id=callback_data.id, resident_id=resident.id)
    if appt is None or appt.status.value != "proposed":
        await _stale(query)
        return
    if callback_data.action is ProposalAction.accept:
        try:
            appt = await appointments.accept_proposal(session, ctx=ctx, appt=appt, resident=resident)
        except appointments.SlotUnavailable:
            await query.answer(_("Sorry, that time is no longer free. Please choose another date."), show_alert=True)
            await start_reschedule(query.message, state, session, ctx, resident, appt)
            return
        await ack(query)
        await query.message.answer(_("✅ Visit {number} is confirmed for {day}, {window}.").format(
            number=appt.number, day=format_day(appt.day, resident.language), window=format_window(appt.window)))
        return
    await ack(query)
    if callback_data.action is ProposalAction.other:
        await start_reschedule(query.message, state, session, ctx, resident, appt)
        return
    try:
        await appointments.cancel_by_resident(session, ctx=ctx, appt=appt, resident=resident)
    except (appointments.TooLate, tickets.TransitionError):
        await query.message.answer(_("This visit can no longer be changed here (changes are possible until 18:00 "
                                     "the day before). Please talk to a person."))
        return
    await query.message.answer(_("Visit {number} has been cancelled.").format(number=appt.number))

"""📅 Home-visit booking (R2): service, address, a day with a free place, a window, phone, confirmation.

The calendar shows only the next 14 working days that still have a free place in the district; the
request is answered by staff within 1 working day. Also here: the resident's answer to a slot staff
proposed (accept / another date / cancel) and rescheduling until the cut-off (18:00 the day before).
The address, district, phone and summary are the form kit's steps (bot/forms), declared at the end.
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

from bot.forms.base import Turn, install
from bot.forms.buttons import ack, message_of, stale, stale_text
from bot.forms.confirm import ConfirmStep
from bot.forms.phone import PhoneStep, mask_phone
from bot.forms.place import AddressStep, DistrictStep
from bot.forms.safety import warn_if_emergency
from bot.keyboards.calendar import DayCallback, WindowCallback, unpack_day, windows_keyboard
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_VISIT, main_menu
from bot.keyboards.requests import Form, nav_buttons, per_locale
from bot.middlewares.forms import TOUCHED
from bot.navigation import menu_entry, show_menu
from bot.views.visits import RescheduleForm, ask_day, start_reschedule, too_late_text
from core import appointments, ignition, slots, tickets
from core.appointments import SERVICE_LABELS, ProposalAction, format_day, format_window
from core.clock import local
from core.context import AppContext
from db.enums import ServiceType
from db.models import Appointment, Resident, UtilityAccount

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


install(router, VisitForm, RescheduleForm, form=Form.visit, cancelled=lambda: _("Cancelled. Nothing was changed."))


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
@menu_entry(MENU_VISIT)
async def on_visit(message: Message, state: FSMContext, ctx: AppContext) -> None:
    await state.clear()
    await state.set_state(VisitForm.service)
    await state.set_data({"key": uuid.uuid4().hex, TOUCHED: ctx.clock.now().timestamp()})
    await message.answer(_("📅 <b>Book a home visit</b>\nWe answer every request within 1 working day. "
                           "What do you need?"), reply_markup=service_keyboard())


@router.callback_query(VisitForm.service, VisitCallback.filter(F.act == Act.service))
async def on_service(query: CallbackQuery, callback_data: VisitCallback, state: FSMContext, session: AsyncSession,
                     ctx: AppContext, resident: Resident) -> None:
    try:
        service = ServiceType(callback_data.v)
    except ValueError:
        await stale(query)
        return
    await ack(query)
    await state.update_data(service=service.value, prerequisites={})
    await message_of(query).answer(_("Service: {service}").format(service=_(SERVICE_LABELS[service])))
    if ignition.needs_prerequisites(service):
        await _ask_prerequisite(message_of(query), state, ignition.ITEMS[0])
        return
    await address.ask(Turn(message_of(query), state, session, ctx, resident))


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
                          session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    answers = dict((await state.get_data()).get("prerequisites") or {})
    missing = ignition.failed(answers)
    if not missing or callback_data.item is not missing[0]:  # an old message's button
        await stale(query)
        return
    await ack(query)
    if not callback_data.ok:
        await state.clear()
        await show_menu(message_of(query), resident, _(ignition.BLOCKED).format(
            reason=_(ignition.REASONS[callback_data.item])))
        return
    answers[callback_data.item.value] = True
    await state.update_data(prerequisites=answers)
    if len(missing) > 1:
        await _ask_prerequisite(message_of(query), state, missing[1])
        return
    await message_of(query).answer(_("Thank you: everything is ready for the ignition."))
    await address.ask(Turn(message_of(query), state, session, ctx, resident))


@router.message(VisitForm.prerequisites)
async def on_prerequisite_other(message: Message) -> None:
    await message.answer(_("Please answer with the “Yes” or “No” button above."))


@router.message(VisitForm.service)
async def on_service_other(message: Message) -> None:
    await message.answer(_("Please choose the service with the buttons."), reply_markup=service_keyboard())


# --- address and district (the kit's steps, below) ------------------------------------------------------


async def _account_chosen(turn: Turn, acc: UtilityAccount) -> None:
    await turn.state.update_data(address=tickets.account_address(acc), district=acc.district, account_id=acc.id)
    await _ask_day(turn)


async def _address_typed(turn: Turn, text: str) -> None:
    await warn_if_emergency(turn, text)
    await turn.state.update_data(address=text, account_id=None)
    served = await slots.districts(turn.session)
    found = next((d for d in served if d in text), None)
    if found is None:
        await district.ask(turn)
        return
    await turn.state.update_data(district=found)
    await _ask_day(turn)


async def _district_chosen(turn: Turn, chosen: str | None) -> None:
    await turn.state.update_data(district=chosen)
    await _ask_day(turn)


async def _ask_day(turn: Turn, intro: str | None = None) -> None:
    await ask_day(turn.message, turn.state, turn.session, turn.ctx, turn.resident, day_state=VisitForm.day,
                  intro=intro)


# --- day and window (shared by booking and rescheduling) ---------------------------------------------------


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
        await ask_day(message, state, session, ctx, resident,
                      day_state=RescheduleForm.day if reschedule else VisitForm.day)
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
        await stale(query)
        return
    await ack(query)
    await _pick_day(message_of(query), state, session, ctx, resident, day,
                    reschedule=raw_state == RescheduleForm.day.state)


@router.message(StateFilter(VisitForm.day, RescheduleForm.day), F.text)
async def on_typed_day(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                       resident: Resident, raw_state: str | None) -> None:
    day = parse_typed_date(message.text or "", local(ctx.clock.now()).date())  # F.text: never empty here
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
        await _finish_reschedule(message_of(query), state, session, ctx, resident)
        return
    turn = Turn(message_of(query), state, session, ctx, resident)
    if data.get("phone"):  # choosing again after a race: the phone given before still stands
        await _phone_known(turn, data["phone"], None)
        return
    await phone.ask(turn)


@router.message(StateFilter(VisitForm.window, RescheduleForm.window))
async def on_window_other(message: Message) -> None:
    await message.answer(_("Please choose a time window with the buttons above."))


# --- phone, summary, submit (the kit's steps, below) --------------------------------------------------------


async def _phone_known(turn: Turn, number: str | None, _name: str | None) -> None:
    await turn.state.update_data(phone=number)
    await confirm.show(turn, _("📞 {phone}").format(phone=mask_phone(number)))


def summary(data: dict[str, Any], lang: str | None) -> str:
    return "\n".join([
        _("<b>Please check your visit request</b>"),
        _("Service: {service}").format(service=_(SERVICE_LABELS[ServiceType(data["service"])])),
        _("Address: {address}").format(address=tickets.esc(data["address"])),
        _("Day: {day}").format(day=format_day(date.fromisoformat(data["day"]), lang)),
        _("Time: {window}").format(window=format_window(data["window"])),
        _("Phone: {phone}").format(phone=mask_phone(data.get("phone"))),
    ])


async def _submit(turn: Turn, data: dict[str, Any]) -> None:
    try:
        appt = await appointments.request_appointment(
            turn.session, ctx=turn.ctx, resident=turn.resident, service=data["service"], district=data["district"],
            address=data["address"], day=date.fromisoformat(data["day"]), window=data["window"],
            contact_phone=data.get("phone"), account_id=data.get("account_id"), idempotency_key=data["key"],
            prerequisites=data.get("prerequisites"),
        )
    except appointments.SlotUnavailable:
        # Taken by someone else meanwhile: keep everything, choose again.
        await _ask_day(turn, _("Sorry, that time was taken just now. Your other answers are kept."))
        return
    except tickets.InvalidInput:
        await turn.state.clear()
        await show_menu(turn.message, turn.resident, _("Sorry, something in the request is not valid. Please start "
                                                       "again from the menu."))
        return
    await turn.state.clear()
    await turn.message.answer(booked_text(appt, turn.lang), reply_markup=main_menu())


def booked_text(appt: Appointment, lang: str | None) -> str:
    return _("📅 Your visit request <b>{number}</b> is registered: {service}, {day}, {window}.\nWe will confirm it "
             "by {respond_by}. You can cancel or change it in 📋 My requests until {cutoff}.").format(
        number=appt.number, service=_(SERVICE_LABELS[ServiceType(appt.service)]), day=format_day(appt.day, lang),
        window=format_window(appt.window), respond_by=tickets.format_deadline(appt.respond_by, lang),
        cutoff=tickets.format_deadline(appointments.cutoff(appt.day), lang, with_time=True))


# --- rescheduling and answers to a proposal -------------------------------------------------------------------


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
        await ask_day(message, state, session, ctx, resident, intro=_("Sorry, that time was taken just now."))
        return
    except (appointments.TooLate, tickets.TransitionError):
        await state.clear()
        await show_menu(message, resident, too_late_text())
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
        await stale(query)
        return
    if callback_data.action is ProposalAction.accept:
        try:
            appt = await appointments.accept_proposal(session, ctx=ctx, appt=appt, resident=resident)
        except appointments.SlotUnavailable:
            await query.answer(_("Sorry, that time is no longer free. Please choose another date."), show_alert=True)
            await start_reschedule(message_of(query), state, session, ctx, resident, appt)
            return
        await ack(query)
        await message_of(query).answer(_("✅ Visit {number} is confirmed for {day}, {window}.").format(
            number=appt.number, day=format_day(appt.day, resident.language), window=format_window(appt.window)))
        return
    await ack(query)
    if callback_data.action is ProposalAction.other:
        await start_reschedule(message_of(query), state, session, ctx, resident, appt)
        return
    try:
        await appointments.cancel_by_resident(session, ctx=ctx, appt=appt, resident=resident)
    except (appointments.TooLate, tickets.TransitionError):
        await message_of(query).answer(too_late_text())
        return
    await message_of(query).answer(_("Visit {number} has been cancelled.").format(number=appt.number))


# --- the kit's steps ----------------------------------------------------------------------------------------

address = AddressStep(
    VisitForm.address, form=Form.visit, pick=lambda account_id: VisitCallback(act=Act.account, v=str(account_id)),
    served=slots.districts,
    ask=lambda has_addresses: (
        _("🏠 Where should we come? Tap your address or type another one (district, street, building, room).")
        if has_addresses
        else _("🏠 Where should we come? Please type the address (district, street, building, room).")),
    invalid=lambda: _("Please type the full address (4 to 200 characters), for example “城东区人民路12号3单元502”."),
    other=lambda: _("Please type the address as text, or tap one of your addresses."),
    on_account=_account_chosen, on_typed=_address_typed)
district = DistrictStep(
    VisitForm.district, form=Form.visit, districts=slots.districts,
    pick=lambda name: VisitCallback(act=Act.district, v=name), then=_district_chosen,
    other=lambda: _("Please choose the district with the buttons above."))
phone = PhoneStep(
    VisitForm.phone, _phone_known, on_file=VisitCallback(act=Act.phone_on_file),
    ask=lambda: _("📞 Which phone number should our staff call about the visit? Tap “Share my phone number” or type "
                  "it."))
confirm = ConfirmStep(
    VisitForm.confirm, form=Form.visit, submit=lambda key: VisitCallback(act=Act.submit, v=key),
    label=lambda: _("✅ Send the request"), summary=lambda data, turn: summary(data, turn.lang), send=_submit,
    find=appointments.appointment_by_key, already=lambda: _("Already sent as {number}."),
    other=lambda: _("Please tap “Send the request”, or Cancel."))

address.register(router, pick_filter=VisitCallback.filter(F.act == Act.account))
district.register(router, pick_filter=VisitCallback.filter(F.act == Act.district))
phone.register(router, on_file_filter=VisitCallback.filter(F.act == Act.phone_on_file))
confirm.register(router, submit_filter=VisitCallback.filter(F.act == Act.submit))

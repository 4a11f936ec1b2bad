"""📋 My requests: open and recent tickets and visits with status and deadline; withdraw, cancel or move them
where the rules allow (a ticket nobody has taken yet; a visit until 18:00 the day before)."""

from __future__ import annotations

from enum import StrEnum

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import ack, message_of, stale
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_REQUESTS
from bot.keyboards.requests import (
    appointment_status_label,
    category_label,
    ticket_kind_label,
    ticket_status_label,
)
from bot.navigation import menu_entry
from bot.views.visits import start_reschedule, too_late_text
from core import appointments, tickets
from core.appointments import SERVICE_LABELS, format_day, format_window
from core.context import AppContext
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, ServiceType, TicketKind
from db.models import Appointment, Resident, Ticket

router = Router(name=__name__)


class MyAct(StrEnum):
    withdraw = "tw"
    withdraw_yes = "twy"
    cancel_visit = "ac"
    cancel_visit_yes = "acy"
    move_visit = "am"
    keep = "k"


class MyRequestsCallback(CallbackData, prefix="myr"):
    act: MyAct
    id: CallbackInt


ICONS = {TicketKind.fault: "🛠", TicketKind.complaint: "📝", TicketKind.callback: "☎️", TicketKind.inquiry: "❓",
         TicketKind.followup: "⭐"}


def ticket_line(t: Ticket, lang: str | None) -> str:
    what = category_label(t.category) if t.kind is TicketKind.fault else ticket_kind_label(t.kind)
    line = f"{ICONS.get(t.kind, '•')} <b>{t.number}</b> · {what}\n" + _("Status: {status}").format(
        status=ticket_status_label(t.status))
    if t.status in OPEN_TICKET_STATUSES:
        line += " · " + _("due by {deadline}").format(deadline=tickets.format_deadline(t.deadline_at, lang))
        if t.progress_note:  # R7: a late order's progress, who is responsible and how to reach them
            line += "\n" + _("Progress: {note}").format(note=tickets.esc(t.progress_note))
            line += "\n" + _("Responsible: {name}, phone {phone}").format(
                name=tickets.esc(t.responsible_name or ""), phone=t.responsible_phone or "")
    return line


def appointment_line(a: Appointment, lang: str | None) -> str:
    line = (f"📅 <b>{a.number}</b> · {_(SERVICE_LABELS[ServiceType(a.service)])}\n"
            f"{format_day(a.day, lang)}, {format_window(a.window)} · {appointment_status_label(a.status)}")
    if a.status is AppointmentStatus.proposed and a.proposed_day and a.proposed_window:
        line += "\n" + _("We proposed: {day}, {window}").format(day=format_day(a.proposed_day, lang),
                                                               window=format_window(a.proposed_window))
    if a.status is AppointmentStatus.requested:
        line += "\n" + _("We will confirm by {deadline}").format(
            deadline=tickets.format_deadline(a.respond_by, lang))
    return line


def actions_keyboard(items: tickets.ResidentRequests, ctx: AppContext) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    now = ctx.clock.now()
    for t in items.tickets:
        if tickets.resident_can_cancel(t):
            kb.button(text=_("✖️ Withdraw {number}").format(number=t.number),
                      callback_data=MyRequestsCallback(act=MyAct.withdraw, id=t.id))
    for a in items.appointments:
        if appointments.resident_can_change(a, now):
            kb.button(text=_("📅 Change {number}").format(number=a.number),
                      callback_data=MyRequestsCallback(act=MyAct.move_visit, id=a.id))
            kb.button(text=_("✖️ Cancel {number}").format(number=a.number),
                      callback_data=MyRequestsCallback(act=MyAct.cancel_visit, id=a.id))
    if not kb.buttons:
        return None
    kb.adjust(1)
    return kb.as_markup()


@router.message(F.text == MENU_REQUESTS)
@menu_entry(MENU_REQUESTS)
async def on_my_requests(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                         resident: Resident) -> None:
    await state.clear()
    items = await tickets.resident_requests(session, resident_id=resident.id, now=ctx.clock.now())
    if not items.tickets and not items.appointments:
        await message.answer(_("You have no requests yet. Use the menu to report a fault, book a visit or make a "
                               "complaint."))
        return
    lang = resident.language
    parts = [_("📋 <b>Your requests</b> (open ones and those of the last 30 days)")]
    parts += [ticket_line(t, lang) for t in items.tickets]
    parts += [appointment_line(a, lang) for a in items.appointments]
    await message.answer("\n\n".join(parts), reply_markup=actions_keyboard(items, ctx))


def _yes_no(act: MyAct, ident: int, yes: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=yes, callback_data=MyRequestsCallback(act=act, id=ident))
    kb.button(text=_("No, keep it"), callback_data=MyRequestsCallback(act=MyAct.keep, id=ident))
    kb.adjust(1)
    return kb.as_markup()


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.withdraw))
async def on_withdraw(query: CallbackQuery, callback_data: MyRequestsCallback, session: AsyncSession,
                      resident: Resident) -> None:
    ticket = await tickets.resident_ticket(session, ticket_id=callback_data.id, resident_id=resident.id)
    if ticket is None or not tickets.resident_can_cancel(ticket):
        await query.answer(_("This request can no longer be withdrawn here; it is already being handled."),
                           show_alert=True)
        return
    await query.answer()
    await message_of(query).answer(_("Withdraw request {number}?").format(number=ticket.number),
                                   reply_markup=_yes_no(MyAct.withdraw_yes, ticket.id, _("Yes, withdraw it")))


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.withdraw_yes))
async def on_withdraw_yes(query: CallbackQuery, callback_data: MyRequestsCallback, session: AsyncSession,
                          ctx: AppContext, resident: Resident) -> None:
    ticket = await tickets.resident_ticket(session, ticket_id=callback_data.id, resident_id=resident.id)
    if ticket is None:
        await stale(query)
        return
    try:
        await tickets.cancel_by_resident(session, ctx=ctx, ticket=ticket, resident=resident)
    except tickets.RequestError:
        await query.answer(_("This request can no longer be withdrawn here; it is already being handled."),
                           show_alert=True)
        return
    await ack(query)
    await message_of(query).answer(_("Request {number} has been withdrawn.").format(number=ticket.number))


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.cancel_visit))
async def on_cancel_visit(query: CallbackQuery, callback_data: MyRequestsCallback, session: AsyncSession,
                          ctx: AppContext, resident: Resident) -> None:
    appt = await appointments.resident_appointment(session, appt_id=callback_data.id, resident_id=resident.id)
    if appt is None or not appointments.resident_can_change(appt, ctx.clock.now()):
        await query.answer(too_late_text(), show_alert=True)
        return
    await query.answer()
    await message_of(query).answer(_("Cancel visit {number}?").format(number=appt.number),
                                   reply_markup=_yes_no(MyAct.cancel_visit_yes, appt.id, _("Yes, cancel the visit")))


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.cancel_visit_yes))
async def on_cancel_visit_yes(query: CallbackQuery, callback_data: MyRequestsCallback, session: AsyncSession,
                              ctx: AppContext, resident: Resident) -> None:
    appt = await appointments.resident_appointment(session, appt_id=callback_data.id, resident_id=resident.id)
    if appt is None:
        await stale(query)
        return
    try:
        await appointments.cancel_by_resident(session, ctx=ctx, appt=appt, resident=resident)
    except tickets.RequestError:
        await query.answer(too_late_text(), show_alert=True)
        return
    await ack(query)
    await message_of(query).answer(_("Visit {number} has been cancelled.").format(number=appt.number))


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.move_visit))
async def on_move_visit(query: CallbackQuery, callback_data: MyRequestsCallback, state: FSMContext,
                        session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    appt = await appointments.resident_appointment(session, appt_id=callback_data.id, resident_id=resident.id)
    if appt is None:
        await stale(query)
        return
    await query.answer()
    await start_reschedule(message_of(query), state, session, ctx, resident, appt)


@router.callback_query(MyRequestsCallback.filter(F.act == MyAct.keep))
async def on_keep(query: CallbackQuery) -> None:
    await ack(query)
    await message_of(query).answer(_("All right, nothing was changed."))

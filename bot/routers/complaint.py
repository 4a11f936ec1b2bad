"""📝 Complaints (R5): accepted at any hour; text, optional photos and phone, a number and a written reply
within 3 working days (R3). Staff classify it in the console (level 1/2, A/B/C)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards.menu import MENU_COMPLAINT, main_menu
from bot.keyboards.requests import (
    Form,
    FormNav,
    Nav,
    ack,
    contact_keyboard,
    mask_phone,
    nav_buttons,
    nav_keyboard,
    photos_added,
    too_long,
)
from bot.middlewares.forms import TOUCHED, StaleFormMiddleware
from bot.routers.start import show_menu
from core import tickets
from core.context import AppContext
from core.tickets import MAX_ATTACHMENTS, MAX_DESCRIPTION
from db.models import Resident

router = Router(name=__name__)


class ComplaintForm(StatesGroup):
    text = State()
    photos = State()
    phone = State()
    confirm = State()


router.message.outer_middleware(StaleFormMiddleware(ComplaintForm))
router.callback_query.outer_middleware(StaleFormMiddleware(ComplaintForm))


class Act(StrEnum):
    submit = "ok"


class ComplaintCallback(CallbackData, prefix="cmp"):
    act: Act
    v: str = ""


def _photo_id(message: Message) -> str | None:
    if message.photo:
        return message.photo[-1].file_id
    doc = message.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        return doc.file_id
    return None


@router.message(F.text == MENU_COMPLAINT)
async def on_complaint(message: Message, state: FSMContext, ctx: AppContext) -> None:
    await state.clear()
    await state.set_state(ComplaintForm.text)
    await state.set_data({"key": uuid.uuid4().hex, TOUCHED: ctx.clock.now().timestamp()})
    await message.answer(
        _("📝 <b>Make a complaint</b>\nWe accept complaints at any time, every day, and reply in writing within 3 "
          "working days. Please tell us what happened: when, where, who was involved if you know, and what you "
          "would like us to do (up to {limit} characters). You can also send a photo with a caption.").format(
            limit=MAX_DESCRIPTION),
        reply_markup=nav_keyboard(Form.complaint),
    )


@router.message(ComplaintForm.text, F.text)
async def on_text(message: Message, state: FSMContext) -> None:
    text = message.text.strip()
    if len(text) > MAX_DESCRIPTION:
        await message.answer(too_long(len(text)))
        return
    if len(text) < 5:
        await message.answer(_("Please tell us a little more (at least a few words)."))
        return
    await state.update_data(text=text)
    await state.set_state(ComplaintForm.photos)
    await message.answer(_("📷 If you have photos or screenshots, send up to {limit} now, or tap Skip.").format(
        limit=MAX_ATTACHMENTS), reply_markup=nav_keyboard(Form.complaint, skip=True))


@router.message(ComplaintForm.text, F.photo | F.document)
async def on_text_photo(message: Message, state: FSMContext) -> None:
    file_id = _photo_id(message)
    caption = (message.caption or "").strip()
    if file_id is None:
        await message.answer(_("Please describe your complaint in text; you can add photos afterwards."))
        return
    if len(caption) > MAX_DESCRIPTION:
        await message.answer(too_long(len(caption)))
        return
    await state.update_data(photos=[file_id], text=caption)
    if len(caption) < 5:
        await message.answer(_("📷 Photo received. Now please describe your complaint in text."))
        return
    await state.set_state(ComplaintForm.photos)
    await message.answer(photos_added(1), reply_markup=nav_keyboard(Form.complaint, done=True))


@router.message(ComplaintForm.text)
async def on_text_other(message: Message) -> None:
    await message.answer(_("Please describe your complaint in text."))


@router.message(ComplaintForm.photos, F.photo | F.document)
async def on_photo(message: Message, state: FSMContext) -> None:
    file_id = _photo_id(message)
    if file_id is None:
        await message.answer(_("Please send a photo (not a file of another kind), or tap Done."))
        return
    photos = list((await state.get_data()).get("photos", []))
    if len(photos) >= MAX_ATTACHMENTS:
        await message.answer(_("That is the maximum of {limit} photos. Tap Done to continue.").format(
            limit=MAX_ATTACHMENTS), reply_markup=nav_keyboard(Form.complaint, done=True))
        return
    photos.append(file_id)
    await state.update_data(photos=photos)
    await message.answer(photos_added(len(photos)), reply_markup=nav_keyboard(Form.complaint, done=True))


@router.message(ComplaintForm.photos, F.text)
async def on_photos_text(message: Message, state: FSMContext) -> None:
    text = "\n".join(p for p in ((await state.get_data()).get("text", ""), message.text.strip()) if p)
    if len(text) > MAX_DESCRIPTION:
        await message.answer(too_long(len(text)))
        return
    await state.update_data(text=text)
    await message.answer(_("Added to your complaint. Send photos, or tap Done."),
                         reply_markup=nav_keyboard(Form.complaint, done=True))


@router.message(ComplaintForm.photos)
async def on_photos_other(message: Message) -> None:
    await message.answer(_("Please send a photo, or tap Done."), reply_markup=nav_keyboard(Form.complaint, done=True))


@router.callback_query(ComplaintForm.photos, FormNav.filter((F.form == Form.complaint) & F.nav.in_({Nav.skip,
                                                                                                     Nav.done})))
async def on_photos_done(query: CallbackQuery, state: FSMContext) -> None:
    await ack(query)
    await state.set_state(ComplaintForm.phone)
    await query.message.answer(_("📞 May we call you about it? Share or type your phone number, or tap Skip and we "
                                 "will reply here in the chat."), reply_markup=contact_keyboard())
    await query.message.answer(_("No phone call needed?"), reply_markup=nav_keyboard(Form.complaint, skip=True))


@router.message(ComplaintForm.phone, F.contact)
async def on_contact(message: Message, state: FSMContext) -> None:
    contact = message.contact
    if contact.user_id is not None and contact.user_id != message.from_user.id:
        await message.answer(_("Please share your own number with the button, or type the number."))
        return
    phone = tickets.clean_phone(contact.phone_number)
    if phone is None:
        await message.answer(_("We could not read a mainland phone number from that contact. Please type the "
                               "number, for example 13812345678."))
        return
    await _confirm(message, state, phone)


@router.message(ComplaintForm.phone, F.text)
async def on_typed_phone(message: Message, state: FSMContext) -> None:
    phone = tickets.clean_phone(message.text[:40])
    if phone is None:
        await message.answer(_("That does not look like a phone number. Please type an 11-digit mobile number such "
                               "as 13812345678, or a landline with its area code such as 0512-65231234."))
        return
    await _confirm(message, state, phone)


@router.message(ComplaintForm.phone)
async def on_phone_other(message: Message) -> None:
    await message.answer(_("Please share your phone number with the button below, type it, or tap Skip."))


@router.callback_query(ComplaintForm.phone, FormNav.filter((F.form == Form.complaint) & (F.nav == Nav.skip)))
async def on_phone_skip(query: CallbackQuery, state: FSMContext) -> None:
    await ack(query)
    await _confirm(query.message, state, None)


def confirm_keyboard(key: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Submit the complaint"), callback_data=ComplaintCallback(act=Act.submit, v=key))
    nav_buttons(kb, Form.complaint)
    kb.adjust(1)
    return kb.as_markup()


async def _confirm(message: Message, state: FSMContext, phone: str | None) -> None:
    await state.update_data(phone=phone)
    await state.set_state(ComplaintForm.confirm)
    data = await state.get_data()
    text = data.get("text", "")
    lines = [_("<b>Please check your complaint</b>"),
             tickets.esc(text[:800] + ("…" if len(text) > 800 else ""))]
    if data.get("photos"):
        lines.append(_("Photos: {count}").format(count=len(data["photos"])))
    lines.append(_("Phone: {phone}").format(phone=mask_phone(phone)) if phone else _("Reply: here in the chat"))
    await message.answer(_("Nearly done."), reply_markup=main_menu())
    await message.answer("\n".join(lines), reply_markup=confirm_keyboard(data["key"]))


@router.callback_query(ComplaintForm.confirm, ComplaintCallback.filter(F.act == Act.submit))
async def on_submit(query: CallbackQuery, callback_data: ComplaintCallback, state: FSMContext,
                    session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    data = await state.get_data()
    if callback_data.v != data.get("key"):
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await ack(query)
    try:
        ticket = await tickets.file_complaint(session, ctx=ctx, resident=resident, text=data.get("text", ""),
                                              attachments=data.get("photos", []), contact_phone=data.get("phone"),
                                              idempotency_key=data["key"])
    except tickets.InvalidInput:
        await state.clear()
        await show_menu(query.message, resident, _("Sorry, something in the complaint is not valid. Please start "
                                                   "again from the menu."))
        return
    await state.clear()
    await query.message.answer(
        _("📝 Your complaint is registered as <b>{number}</b>. We will look into it and reply in writing by "
          "{deadline}. You will get a message here at every step, and can follow it in 📋 My requests.").format(
            number=ticket.number, deadline=tickets.format_deadline(ticket.deadline_at, resident.language)),
        reply_markup=main_menu())


@router.callback_query(ComplaintCallback.filter(F.act == Act.submit), StateFilter(None))
async def on_submit_again(query: CallbackQuery, callback_data: ComplaintCallback, session: AsyncSession,
                          resident: Resident) -> None:
    ticket = await tickets.ticket_by_key(session, callback_data.v) if callback_data.v else None
    if ticket is None or ticket.resident_id != resident.id:
        await query.answer(_("Sorry, this button is no longer active. Please use the menu below."), show_alert=True)
        return
    await query.answer(_("Already submitted as {number}.").format(number=ticket.number), show_alert=True)


@router.message(ComplaintForm.confirm)
async def on_confirm_other(message: Message, state: FSMContext) -> None:
    await message.answer(_("Please tap “Submit the complaint”, or Cancel."),
                         reply_markup=confirm_keyboard((await state.get_data())["key"]))


@router.callback_query(StateFilter(ComplaintForm), FormNav.filter((F.form == Form.complaint) & (F.nav == Nav.cancel)))
async def on_cancel(query: CallbackQuery, state: FSMContext, resident: Resident) -> None:
    await ack(query)
    await state.clear()
    await show_menu(query.message, resident, _("Cancelled. Nothing was submitted."))

"""📝 Complaints (R5): accepted at any hour; text, optional photos and phone, a number and a written reply
within 3 working days (R3). Staff classify it in the console (level 1/2, A/B/C).

Every step after the first question is a form-kit step (bot/forms), declared at the end."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.forms.base import Turn, install
from bot.forms.confirm import ConfirmStep
from bot.forms.media import DescribeStep, DescribeTexts, PhotosStep
from bot.forms.phone import PhoneStep, mask_phone
from bot.keyboards.menu import MENU_COMPLAINT, main_menu
from bot.keyboards.requests import Form, nav_keyboard
from bot.middlewares.forms import TOUCHED
from bot.navigation import menu_entry, show_menu
from core import tickets
from core.context import AppContext
from core.tickets import MAX_ATTACHMENTS, MAX_DESCRIPTION

router = Router(name=__name__)


class ComplaintForm(StatesGroup):
    text = State()
    photos = State()
    phone = State()
    confirm = State()


install(router, ComplaintForm, form=Form.complaint, cancelled=lambda: _("Cancelled. Nothing was submitted."))


class Act(StrEnum):
    submit = "ok"


class ComplaintCallback(CallbackData, prefix="cmp"):
    act: Act
    v: str = ""


@router.message(F.text == MENU_COMPLAINT)
@menu_entry(MENU_COMPLAINT)
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


async def _phone_known(turn: Turn, phone: str | None, _name: str | None) -> None:
    await turn.state.update_data(phone=phone)
    await confirm.show(turn, _("Nearly done."))


def summary(data: dict[str, Any]) -> str:
    text, phone = data.get("text", ""), data.get("phone")
    lines = [_("<b>Please check your complaint</b>"),
             tickets.esc(text[:800] + ("…" if len(text) > 800 else ""))]
    if data.get("photos"):
        lines.append(_("Photos: {count}").format(count=len(data["photos"])))
    lines.append(_("Phone: {phone}").format(phone=mask_phone(phone)) if phone else _("Reply: here in the chat"))
    return "\n".join(lines)


async def _submit(turn: Turn, data: dict[str, Any]) -> None:
    try:
        ticket = await tickets.file_complaint(turn.session, ctx=turn.ctx, resident=turn.resident,
                                              text=data.get("text", ""), attachments=data.get("photos", []),
                                              contact_phone=data.get("phone"), idempotency_key=data["key"])
    except tickets.InvalidInput:
        await turn.state.clear()
        await show_menu(turn.message, turn.resident, _("Sorry, something in the complaint is not valid. Please start "
                                                       "again from the menu."))
        return
    await turn.state.clear()
    await turn.message.answer(
        _("📝 Your complaint is registered as <b>{number}</b>. We will look into it and reply in writing by "
          "{deadline}. You will get a message here at every step, and can follow it in 📋 My requests.").format(
            number=ticket.number, deadline=tickets.format_deadline(ticket.deadline_at, turn.lang)),
        reply_markup=main_menu())


# --- the kit's steps ----------------------------------------------------------------------------------------

phone = PhoneStep(
    ComplaintForm.phone, _phone_known, skip=Form.complaint,
    ask=lambda: _("📞 May we call you about it? Share or type your phone number, or tap Skip and we will reply here "
                  "in the chat."))
photos = PhotosStep(
    ComplaintForm.photos, form=Form.complaint, field="text", then=phone.ask,
    ask=lambda: _("📷 If you have photos or screenshots, send up to {limit} now, or tap Skip.").format(
        limit=MAX_ATTACHMENTS),
    added=lambda: _("Added to your complaint. Send photos, or tap Done."))
text = DescribeStep(
    ComplaintForm.text, field="text", photos=photos, then=photos.ask, min_chars=5,
    texts=DescribeTexts(
        not_photo=lambda: _("Please describe your complaint in text; you can add photos afterwards."),
        other=lambda: _("Please describe your complaint in text."),
        too_short=lambda: _("Please tell us a little more (at least a few words)."),
        photo_needs_words=lambda: _("📷 Photo received. Now please describe your complaint in text.")))
confirm = ConfirmStep(
    ComplaintForm.confirm, form=Form.complaint, submit=lambda key: ComplaintCallback(act=Act.submit, v=key),
    label=lambda: _("✅ Submit the complaint"), summary=lambda data, _turn: summary(data), send=_submit,
    find=tickets.ticket_by_key, already=lambda: _("Already submitted as {number}."),
    other=lambda: _("Please tap “Submit the complaint”, or Cancel."))

text.register(router)
photos.register(router)
phone.register(router)
confirm.register(router, submit_filter=ComplaintCallback.filter(F.act == Act.submit))

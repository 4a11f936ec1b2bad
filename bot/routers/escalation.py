"""When the bot's answer is not enough: talk to a person (R6) or ask for a call back (R10).

Reached from the buttons under an answer, under the ambiguous-question choices, and after two
questions in a row that the bot could not match. The callback form asks for a phone number
(contact button or typed) and can also be answered "reply here in the chat instead".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import ReplyKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.base import Turn
from bot.forms.buttons import message_of, stale
from bot.forms.phone import PhoneStep, PhoneTexts
from bot.keyboards.guides import Escalate, EscalateCallback, topic_at
from bot.navigation import show_menu
from bot.views.handoff import start_handoff
from core import handoff, questions, tickets
from core.context import AppContext
from db.enums import QuestionOutcome
from db.models import Resident

router = Router(name=__name__)

IN_CHAT = __("💬 Answer me here in the chat")


class CallbackForm(StatesGroup):
    phone = State()


@dataclass(frozen=True)
class About:
    """What the resident wants a person for: the question text and the context an agent sees."""

    question: str
    exchange: dict[str, Any] | None
    question_id: int | None


async def _about(session: AsyncSession, ctx: AppContext, resident: Resident, data: EscalateCallback) -> About | None:
    """None when the button refers to someone else's question or to an unknown topic (forged/stale)."""
    if data.q:
        row = await questions.get_question(session, question_id=data.q, resident_id=resident.id)
        if row is None:
            return None
        return About(row.text, questions.exchange_summary(row), row.id)
    if data.t >= 0:
        topic = topic_at(ctx.catalogue, data.t)
        if topic is None:
            return None
        title = topic.title.get("en" if resident.language == "en" else "zh")
        return About(f"{title} ({topic.slug})", {"guide": topic.slug}, None)
    return About("", None, None)


@router.callback_query(EscalateCallback.filter(F.what == Escalate.person))
async def on_person(query: CallbackQuery, callback_data: EscalateCallback, state: FSMContext,
                    session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    about = await _about(session, ctx, resident, callback_data)
    if about is None:
        await stale(query)
        return
    await query.answer()
    await state.clear()
    reason = handoff.Reason.not_understood if about.question_id else handoff.Reason.button
    await start_handoff(message_of(query), session=session, ctx=ctx, resident=resident, reason=reason,
                        last_exchange=about.exchange)
    if about.question_id:
        await questions.set_outcome(session, question_id=about.question_id, resident_id=resident.id,
                                    outcome=QuestionOutcome.handed_off)


def phone_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.button(text=_("📱 Share my phone number"), request_contact=True)
    kb.button(text=str(IN_CHAT))
    kb.button(text=_("Cancel"))  # the same word /cancel understands in both languages
    kb.adjust(1)
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


@router.callback_query(EscalateCallback.filter(F.what == Escalate.callback))
async def on_callback(query: CallbackQuery, callback_data: EscalateCallback, state: FSMContext,
                      session: AsyncSession, ctx: AppContext, resident: Resident) -> None:
    about = await _about(session, ctx, resident, callback_data)
    if about is None:
        await stale(query)
        return
    await query.answer()
    await state.clear()
    # The key is fixed when the form starts, so a retried or doubled last step files one ticket.
    await state.update_data(cb_key=uuid.uuid4().hex, cb_q=about.question_id, cb_text=about.question)
    await contact.ask(Turn(message_of(query), state, session, ctx, resident))


async def _finish(turn: Turn, phone: str | None, _name: str | None = None) -> None:
    data = await turn.state.get_data()
    question = data.get("cb_text") or "-"
    ticket = await questions.request_callback(
        turn.session, ctx=turn.ctx, resident=turn.resident, question=question, phone=phone,
        idempotency_key=f"cb-{data.get('cb_key') or uuid.uuid4().hex}", question_id=data.get("cb_q"),
    )
    await turn.state.clear()
    deadline = tickets.format_deadline(ticket.deadline_at, turn.lang, with_time=True)
    if phone:
        text = _("Thank you. Your callback request {number} is registered: we will call you by {deadline}.")
    else:
        text = _("Thank you. Your request {number} is registered: a colleague will answer you here "
                 "in the chat by {deadline}.")
    await show_menu(turn.message, turn.resident, text.format(number=ticket.number, deadline=deadline))


@router.message(CallbackForm.phone, F.text == IN_CHAT)
async def on_in_chat(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
    await _finish(Turn(message, state, session, ctx, resident), None)


# The phone step of the form kit, with this form's own words and its "answer me here" button; only the
# resident's own card counts (R15: we call the person who asked), and an unusual number is kept as digits.
contact = PhoneStep(
    CallbackForm.phone, _finish, keyboard=phone_keyboard, strict=True, keep_digits=True,
    ask=lambda: _("We will get back to you within 24 hours. Please share your phone number with the button below, "
                  "or type it (for example 13800000001 or 0512-66661234). If you prefer, we can answer you here "
                  "in the chat instead."),
    texts=PhoneTexts(
        not_own=lambda: _("Please share your own number with the button below, or type the number."),
        invalid=lambda: _("That does not look like a phone number. Please type a mobile number such as 13800000001 "
                          "or a landline such as 0512-66661234, or use the buttons below."),
        with_keyboard=True))
contact.register(router)

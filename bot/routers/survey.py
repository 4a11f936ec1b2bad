"""⭐ R4 follow-up survey: service attitude and professional ability, 1–10 with buttons, then an optional comment.

The survey message itself comes from the outbox (core.surveys). A low score is never argued with: the
resident is thanked and told a supervisor will follow up.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import ack, message_of, stale_text
from bot.keyboards.callback_int import CallbackInt
from bot.middlewares.forms import TOUCHED, StaleFormMiddleware
from core import surveys
from core.context import AppContext
from core.surveys import Question
from db.models import Resident

router = Router(name=__name__)


class SurveyForm(StatesGroup):
    comment = State()


# The comment is optional: after half an hour a new message is a new message, not a comment.
router.message.outer_middleware(StaleFormMiddleware(SurveyForm, max_age=1800))


class SurveyCallback(CallbackData, prefix=surveys.CALLBACK_PREFIX):
    """Packs to core.surveys.callback_data(survey, q, score)."""

    survey: CallbackInt
    q: Question
    score: CallbackInt


def scores_keyboard(survey_id: int, question: Question) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for n in range(1, 11):
        kb.button(text=str(n), callback_data=SurveyCallback(survey=survey_id, q=question, score=n))
    kb.adjust(5)
    return kb.as_markup()


def skip_keyboard(survey_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("⏭ Skip"), callback_data=SurveyCallback(survey=survey_id, q=Question.comment, score=0))
    return kb.as_markup()


ERRORS = {
    "answered": lambda: _("You have already answered this survey. Thank you!"),
    "expired": lambda: _("This survey has closed. Thank you all the same."),
    "order": lambda: _("Please rate the service attitude first."),
}


async def _refuse(query: CallbackQuery, code: str) -> None:
    message = ERRORS.get(code)
    await query.answer(message() if message else stale_text(), show_alert=True)


@router.callback_query(SurveyCallback.filter(F.q == Question.attitude))
async def on_attitude(query: CallbackQuery, callback_data: SurveyCallback, session: AsyncSession, ctx: AppContext,
                      resident: Resident) -> None:
    try:
        await surveys.record_rating(session, ctx=ctx, survey_id=callback_data.survey, resident=resident,
                                    question=Question.attitude, score=callback_data.score)
    except surveys.SurveyError as e:
        await _refuse(query, e.code)
        return
    await query.answer()
    await message_of(query).edit_text(
        _("Service attitude: {score}/10").format(score=callback_data.score) + "\n\n" + _(surveys.SECOND_QUESTION),
        reply_markup=scores_keyboard(callback_data.survey, Question.ability),
    )


@router.callback_query(SurveyCallback.filter(F.q == Question.ability))
async def on_ability(query: CallbackQuery, callback_data: SurveyCallback, state: FSMContext, session: AsyncSession,
                     ctx: AppContext, resident: Resident) -> None:
    try:
        result = await surveys.record_rating(session, ctx=ctx, survey_id=callback_data.survey, resident=resident,
                                             question=Question.ability, score=callback_data.score)
    except surveys.SurveyError as e:
        await _refuse(query, e.code)
        return
    await ack(query)
    s = result.survey
    text = _("Thank you for your rating: service attitude {a}/10, professional ability {b}/10.").format(
        a=s.attitude, b=s.ability)
    if result.followup is not None:
        text += "\n" + _("We are sorry we did not fully meet your expectations. A supervisor will contact you to "
                         "find out what went wrong.")
    await message_of(query).edit_text(text)
    await state.set_state(SurveyForm.comment)
    await state.set_data({"survey_id": s.id, TOUCHED: ctx.clock.now().timestamp()})
    await message_of(query).answer(_("Would you like to add a comment? Type it now (up to {limit} characters), or tap "
                                     "Skip.").format(limit=surveys.MAX_COMMENT), reply_markup=skip_keyboard(s.id))


@router.callback_query(SurveyCallback.filter(F.q == Question.comment))
async def on_skip_comment(query: CallbackQuery, state: FSMContext) -> None:
    await ack(query)
    if await state.get_state() == SurveyForm.comment.state:
        await state.clear()
    await message_of(query).answer(_("Thank you for your time!"))


@router.message(SurveyForm.comment, F.text)
async def on_comment(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                     resident: Resident) -> None:
    text = (message.text or "").strip()  # registered with F.text: never empty here
    if len(text) > surveys.MAX_COMMENT:
        await message.answer(_("That is {length} characters; please keep your comment under {limit}.").format(
            length=len(text), limit=surveys.MAX_COMMENT))
        return
    survey_id = (await state.get_data()).get("survey_id", "")  # none: the form expired (ValueError below)
    try:
        await surveys.add_comment(session, ctx=ctx, survey_id=int(survey_id), resident=resident, text=text)
    except (surveys.SurveyError, TypeError, ValueError):
        await state.clear()
        await message.answer(_("This survey has closed. Thank you all the same."))
        return
    await state.clear()
    await message.answer(_("Thank you, your comment has been passed on."))


@router.message(SurveyForm.comment)
async def on_comment_other(message: Message, state: FSMContext) -> None:
    survey_id = (await state.get_data()).get("survey_id") or 0
    await message.answer(_("Please type your comment as text, or tap Skip."), reply_markup=skip_keyboard(survey_id))

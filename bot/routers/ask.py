"""Free text outside a form goes to the knowledge matcher (issue 3).

* A question about a supply being off, asked where an outage is under way, gets the outage
  notice with its reason, estimated restoration and an apology (R9).
* The outcome comes from core.knowledge.resolve (issue 14; the same for simple mode, the
  sandbox and `onestop ask`): a confident answer gets the complete answer (R1) with its buttons;
  otherwise, unless the question is off-topic, two or three topics as buttons plus "none of
  these" (describe it again / talk to a person) — never a dead end.
* Off-topic gets "I did not understand" with the guide menu; two in a row also offer a person,
  a call back (R10) and, for residents not yet using it, simple mode (issue 8). Small talk ("谢谢",
  "good morning", "are you a bot?") is answered in kind instead: it is not logged as a question and
  counts no miss.

Every question is logged with its outcome (core.questions). Included just before the fallback:
menu buttons, commands and non-text messages are left to the other routers.
"""

from __future__ import annotations

import gc
import logging

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import message_of, stale
from bot.keyboards.guides import (
    AskChoiceCallback,
    AskNoneCallback,
    AskNotThisCallback,
    choices_keyboard,
    escalation_keyboard,
    topic_at,
    utilities_keyboard,
)
from bot.keyboards.menu import is_menu_text
from bot.views.guides import content_lang, send_topic
from bot.views.smalltalk import small_talk_reply
from core import knowledge, outages, questions, residents
from core.context import AppContext
from db.enums import QuestionOutcome
from db.models import Resident

router = Router(name=__name__)
log = logging.getLogger(__name__)

MISSES_BEFORE_OFFER = 2


@router.startup()
async def load_knowledge(ctx: AppContext) -> None:
    """Load, validate and index the topics when the bot starts, not on the first question: a broken
    topic file stops start-up with its file and field named (knowledge.TopicError)."""
    matcher = ctx.matcher  # loads ctx.catalogue first
    # The catalogue and index are long-lived: move them (and everything else built at start-up) out
    # of the collector's reach, so a full collection never walks them in the middle of a question.
    gc.freeze()
    log.info("knowledge base: %d topics indexed", len(matcher.slugs))


def is_question(message: Message) -> bool:
    text = message.text
    return bool(text and text.strip() and not text.startswith("/") and not is_menu_text(text))


@router.message(StateFilter(None), F.text, is_question)
async def on_question(message: Message, session: AsyncSession, resident: Resident, ctx: AppContext,
                      i18n: I18n) -> None:
    text = message.text or ""  # is_question: never empty here
    locale = i18n.current_locale
    lang = content_lang(i18n)
    now = ctx.clock.now()

    # R9: "why is there no water?" from inside an outage area is answered with the notice.
    current = await questions.outages_for_question(session, resident_id=resident.id, text=text, now=now)
    if current:
        await questions.log_question(session, resident_id=resident.id, text=text, language=locale,
                                     outcome=QuestionOutcome.outage, now=now, topic=None, score=0.0)
        await residents.clear_misses(session, resident)
        await message.answer(outages.outage_answer(current, locale, now=now, translator=ctx.translator))
        return

    result = await knowledge.resolve(session, ctx, text, lang)
    if result.outcome == "answer" and result.topic is not None:  # an answer always names its topic
        row = await questions.log_question(session, resident_id=resident.id, text=text, language=locale,
                                           outcome=QuestionOutcome.answered, now=now, topic=result.topic,
                                           score=result.score, alternatives=result.alternatives)
        await residents.clear_misses(session, resident)
        await send_topic(message, ctx, ctx.catalogue[result.topic], lang, question_id=row.id, not_this=True)
        return

    if result.outcome == "choice" and result.alternatives:
        row = await questions.log_question(session, resident_id=resident.id, text=text, language=locale,
                                           outcome=QuestionOutcome.ambiguous, now=now, topic=None,
                                           score=result.score, alternatives=result.alternatives)
        await residents.clear_misses(session, resident)
        slugs = [slug for slug, _score in result.alternatives]
        await message.answer(_("I think you mean one of these. Please tap the right one:"),
                             reply_markup=choices_keyboard(ctx.catalogue, slugs, lang, row.id))
        return

    if result.small_talk is not None:
        # Not a question: no log row, no miss. "Are you a bot?" is also the way to a person.
        await message.answer(small_talk_reply(result.small_talk),
                             reply_markup=escalation_keyboard() if result.small_talk == "bot" else utilities_keyboard())
        return

    row = await questions.log_question(session, resident_id=resident.id, text=text, language=locale,
                                       outcome=QuestionOutcome.no_match, now=now, topic=None, score=result.score)
    misses = await residents.record_miss(session, resident)
    if misses >= MISSES_BEFORE_OFFER:
        await message.answer(
            _("I am sorry, I still could not find an answer. A colleague can help you: talk to a person now, "
              "or leave your number and we will get back to you within 24 hours."),
            reply_markup=escalation_keyboard(question_id=row.id, offer_simple_mode=not resident.guided_mode),
        )
        return
    await message.answer(
        _("Sorry, I did not understand. Please try again in a few words, for example "
          "“transfer gas account” or “water meter check”, or pick a guide below."),
        reply_markup=utilities_keyboard(),
    )


@router.callback_query(AskChoiceCallback.filter())
async def on_choice(query: CallbackQuery, callback_data: AskChoiceCallback, session: AsyncSession,
                    resident: Resident, ctx: AppContext, i18n: I18n) -> None:
    topic = topic_at(ctx.catalogue, callback_data.t)
    row = await questions.get_question(session, question_id=callback_data.q, resident_id=resident.id)
    # Only a topic we actually offered for the resident's own question (forged data changes nothing).
    # A later tap still shows the answer; set_outcome leaves a question already handed off as it is.
    if topic is None or row is None or topic.slug not in questions.offered_topics(row):
        await stale(query)
        return
    await questions.set_outcome(session, question_id=row.id, resident_id=resident.id,
                                outcome=QuestionOutcome.chose, topic=topic.slug)
    await residents.clear_misses(session, resident)
    await query.answer()
    await send_topic(message_of(query), ctx, topic, content_lang(i18n), question_id=row.id)


@router.callback_query(AskNotThisCallback.filter())
async def on_not_this(query: CallbackQuery, callback_data: AskNotThisCallback, session: AsyncSession,
                      resident: Resident, ctx: AppContext, i18n: I18n) -> None:
    """A confident answer was not what the resident asked: offer the matcher's runner-ups, or (none
    left) ask to describe it again / talk to a person. Staff see it on the knowledge page."""
    row = await questions.set_outcome(session, question_id=callback_data.q, resident_id=resident.id,
                                      outcome=QuestionOutcome.not_this)
    if row is None:  # someone else's, unknown, or already said (a second tap)
        await stale(query)
        return
    await query.answer()
    others = [slug for slug in questions.other_topics(row) if slug in ctx.catalogue]
    if others:
        await message_of(query).answer(_("Sorry about that. Is it one of these? Please tap the right one:"),
                                       reply_markup=choices_keyboard(ctx.catalogue, others, content_lang(i18n),
                                                                     row.id))
    else:
        await _ask_again(query, row.id)


@router.callback_query(AskNoneCallback.filter())
async def on_none_of_these(query: CallbackQuery, callback_data: AskNoneCallback, session: AsyncSession,
                           resident: Resident) -> None:
    """None of the offered topics fits: ask to describe it again, or hand it to a person (issue 14)."""
    row = await questions.get_question(session, question_id=callback_data.q, resident_id=resident.id)
    if row is None:
        await stale(query)
        return
    await questions.set_outcome(session, question_id=row.id, resident_id=resident.id,
                                outcome=QuestionOutcome.none_of_these)
    await query.answer()
    await _ask_again(query, row.id)


async def _ask_again(query: CallbackQuery, question_id: int) -> None:
    await message_of(query).answer(
        _("Sorry about that. Please describe it again in other words — for example what you want to do "
          "and for which service (gas, water or power) — or talk to a person."),
        reply_markup=escalation_keyboard(question_id=question_id),
    )

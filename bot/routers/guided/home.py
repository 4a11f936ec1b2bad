"""Guided mode: the home screens, talking to a person, calling back, settings, and typed text."""

from __future__ import annotations

import uuid

from aiogram.utils.i18n import gettext as _

from bot.guided.engine import G, Page, page
from bot.guided.ids import (
    BALANCE,
    COMPLAINT,
    FAULT,
    GUIDE_TOPIC,
    GUIDES,
    HOME_ID,
    LANGUAGE,
    MORE,
    OUTAGES,
    PERSON,
    QUESTION_CHOICE,
    QUESTION_NONE,
    REQUESTS,
    SETTINGS,
    VISIT,
    menu_page,
)
from bot.guided.ui import Option, Screen
from bot.keyboards.menu import main_menu
from bot.views.handoff import start_handoff
from bot.views.smalltalk import small_talk_reply
from core import handoff, knowledge, questions, residents, safety, tickets
from core.i18n import LOCALES
from db.enums import QuestionOutcome

MISSES_BEFORE_OFFER = 2
NONE_OF_THESE = "none"


@page
class Home(Page):
    id = HOME_ID

    async def render(self, g: G) -> Screen:
        return Screen(
            _("Hello! What do you need? Tap a big button below."),
            [
                Option(GUIDES, _("📚 How to apply")),
                Option(FAULT, _("🛠 Report a problem")),
                Option(VISIT, _("📅 Book a home visit")),
                Option(BALANCE, _("💳 My balance")),
                Option(PERSON, _("👩‍💼 Talk to a person")),
                Option(MORE, _("➕ More services")),
            ],
            nav=False, paged=False,
        )

    async def choose(self, g: G, key: str) -> None:
        g.go(key)


@page
class More(Page):
    id = MORE

    async def render(self, g: G) -> Screen:
        return Screen(
            _("More services. Tap one."),
            [
                Option(OUTAGES, _("⚡ Outages near me")),
                Option(REQUESTS, _("📋 My requests")),
                Option(COMPLAINT, _("📝 Make a complaint")),
                Option(SETTINGS, _("⚙️ Settings")),
            ],
        )

    async def choose(self, g: G, key: str) -> None:
        g.go(key)


@page
class Person(Page):
    id = PERSON

    async def render(self, g: G) -> Screen:
        return Screen(
            _("A colleague can chat with you here, or call you back within 24 hours."),
            [
                Option("chat", _("💬 Chat here")),
                Option("call", _("📞 Call me back"), contact=True),
            ],
        )

    async def choose(self, g: G, key: str) -> None:
        if key == "chat":
            await start_chat(g)

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        if not own:
            await g.say(_("Please tap the button to share your own number."))
            return
        await call_me_back(g, phone)


async def start_chat(g: G, *, reason: str = handoff.Reason.button) -> None:
    """Queue the resident for a person (guided residents come first) and say what happens next."""
    await start_handoff(g.message, session=g.session, ctx=g.ctx, resident=g.resident, reason=reason,
                        priority=handoff.PRIORITY_GUIDED)
    g.done(PERSON)


async def call_me_back(g: G, phone: str, question: str | None = None) -> None:
    """R10: a callback ticket due within 24 hours, on the resident's own number."""
    key = g.data.setdefault("cb_key", uuid.uuid4().hex)
    ticket = await questions.request_callback(
        g.session, ctx=g.ctx, resident=g.resident, question=question or _("Please call me back (simple mode)"),
        phone=tickets.clean_phone(phone) or phone, idempotency_key=f"gcb-{key}",
    )
    g.forget("cb_key")
    deadline = tickets.format_deadline(ticket.deadline_at, g.locale, with_time=True)
    await g.say(_("Thank you. We will call you by {deadline}. Your number: {number}.").format(
        deadline=deadline, number=ticket.number))
    g.home()


@page
class Settings(Page):
    id = SETTINGS

    async def render(self, g: G) -> Screen:
        return Screen(
            _("Settings. Simple mode is on."),
            [
                Option(LANGUAGE, _("🌐 Language")),
                Option("off", _("🔠 Turn simple mode off")),
            ],
        )

    async def choose(self, g: G, key: str) -> None:
        if key == LANGUAGE:
            g.go(LANGUAGE)
        elif key == "off":
            await leave_guided_mode(g)


async def leave_guided_mode(g: G) -> None:
    await residents.set_guided_mode(g.session, g.resident, False)
    await g.state.clear()
    await g.message.answer(_("Simple mode is off. You can turn it on again in ⚙️ Settings."), reply_markup=main_menu())
    raise LeftGuidedMode


class LeftGuidedMode(Exception):
    """Raised to stop the engine from drawing another guided screen."""


@page
class Language(Page):
    id = LANGUAGE

    async def render(self, g: G) -> Screen:
        return Screen(_("Choose your language."), [Option("zh_Hans", "🇨🇳 中文"), Option("en", "🇬🇧 English")])

    async def choose(self, g: G, key: str) -> None:
        if key in LOCALES:
            await residents.set_language(g.session, g.resident, key)
            g.i18n.ctx_locale.set(key)
            g.home()


async def not_understood(g: G, text: str) -> None:
    """Typed text in simple mode: answer it if the knowledge base can, otherwise offer a person."""
    text = text.strip()[:500]
    if not text:
        await g.say(_("Please tap one of the big buttons below."))
        return
    page_id = menu_page(text)
    if page_id is not None:  # a button of the normal menu, from an old keyboard still on screen
        g.home()
        g.go(page_id)
        return
    now = g.ctx.clock.now()
    # The same outcome function as the normal bot (issue 14): answer, a choice on big buttons, or
    # "not understood" for off-topic text only.
    result = await knowledge.resolve(g.session, g.ctx, text, g.lang)
    topic = result.topic if result.outcome == "answer" else None
    emergency = safety.detect_emergency(text)
    if emergency is not None and safety.TOPICS[emergency] in g.ctx.catalogue:
        topic = safety.TOPICS[emergency]  # R20: what to do now, whatever the matcher made of the words
    if topic:
        row = await questions.log_question(g.session, resident_id=g.resident.id, text=text, language=g.locale,
                                           outcome=QuestionOutcome.answered, now=now, topic=topic,
                                           score=result.score, alternatives=result.alternatives)
        g.data.pop("misses", None)
        g.data["topic"] = topic
        g.data["answered_q"] = row.id  # the topic page offers "not what I asked" for this question
        g.go(GUIDE_TOPIC)
        return
    if result.outcome == "choice" and result.alternatives:
        row = await questions.log_question(g.session, resident_id=g.resident.id, text=text, language=g.locale,
                                           outcome=QuestionOutcome.ambiguous, now=now, topic=None,
                                           score=result.score, alternatives=result.alternatives)
        g.data.pop("misses", None)
        g.data["question"] = {"id": row.id, "topics": [slug for slug, _score in result.alternatives]}
        g.go(QUESTION_CHOICE)
        return
    if result.small_talk is not None:  # "谢谢", "你好": answered in kind, not a miss (as in the chat)
        await g.say(small_talk_reply(result.small_talk))
        if result.small_talk == "bot":
            g.go(PERSON)
        return
    await questions.log_question(g.session, resident_id=g.resident.id, text=text, language=g.locale,
                                 outcome=QuestionOutcome.no_match, now=now, topic=None, score=result.score)
    misses = g.data["misses"] = g.data.get("misses", 0) + 1
    if misses >= MISSES_BEFORE_OFFER:
        g.data.pop("misses", None)
        await g.say(_("Sorry, I did not understand. A colleague can help you."))
        g.go(PERSON)
    else:
        # The screen stays as it is (a form in progress keeps its place); its buttons lead home and
        # to the guides.
        await g.say(_("Sorry, I did not understand. Please tap one of the big buttons below."))


@page
class QuestionChoice(Page):
    """The topics a typed question may be about, as big buttons, plus "none of these" (issue 14)."""

    id = QUESTION_CHOICE

    def _offered(self, g: G) -> tuple[int, list[str]]:
        q = g.data.get("question") or {}
        return int(q.get("id", 0)), [s for s in q.get("topics", []) if s in g.ctx.catalogue]

    async def render(self, g: G) -> Screen:
        _qid, slugs = self._offered(g)
        options = [Option(slug, "📖 " + g.ctx.catalogue[slug].title.get(g.lang)) for slug in slugs]
        options.append(Option(NONE_OF_THESE, _("🤔 None of these")))
        return Screen(_("I think you mean one of these. Please tap the right one."), options)

    async def choose(self, g: G, key: str) -> None:
        qid, slugs = self._offered(g)
        if key == NONE_OF_THESE:
            await questions.set_outcome(g.session, question_id=qid, resident_id=g.resident.id,
                                        outcome=QuestionOutcome.none_of_these)
            g.go(QUESTION_NONE)
        elif key in slugs:
            await questions.set_outcome(g.session, question_id=qid, resident_id=g.resident.id,
                                        outcome=QuestionOutcome.chose, topic=key)
            g.data["topic"] = key
            g.go(GUIDE_TOPIC)


@page
class QuestionNone(Page):
    """None of the offered topics fits: type it again in other words, or a person."""

    id = QUESTION_NONE

    async def render(self, g: G) -> Screen:
        return Screen(_("Sorry about that. Please type it again in other words, or talk to a person."),
                      [Option(PERSON, _("👩‍💼 Talk to a person"))])

    async def choose(self, g: G, key: str) -> None:
        if key == PERSON:
            g.go(PERSON)

"""Guided mode: guides and checklists, by big buttons (issue 8).

Utility -> topics of that utility -> one topic: a short summary, then "what to bring" and "steps" one
numbered message at a time with "Next" (Back returns to the previous one), the written one-time notice
《一次性告知单》 as a PDF filed on record (R1, via core.notices), and the topic's actions (book a visit,
report a problem, talk to a person...). Typed questions land on the same topic page (home.not_understood).
"""

from __future__ import annotations

import logging

from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import gettext as _

from bot.guided.engine import PAGES, G, Page, page
from bot.guided.ids import (
    BALANCE,
    COMPLAINT,
    FAULT,
    GUIDE_TOPIC,
    GUIDES,
    OUTAGES,
    PERSON,
    QUESTION_CHOICE,
    QUESTION_NONE,
    VISIT,
)
from bot.guided.ui import MAX_TEXT, PAGE, Option, Screen, split_text
from bot.routers.guided.fault import start_from_topic
from core import notices, questions
from core.tickets import esc
from db.enums import QuestionOutcome
from knowledge.models import Action, Kind, Lang, Topic, Utility

log = logging.getLogger(__name__)

TOPICS = "guides.topics"
SEQUENCE = "guide.seq"
MAX_WORDS = 6  # an English button: an emoji and at most six words

# The parts of a topic that are read one numbered message at a time.
DOCUMENTS, STEPS, SAFETY, DETAILS = "documents", "steps", "safety", "details"
NOT_THIS = "not_this"

# Topic action -> the guided page that does it.
ACTION_PAGES = {
    Action.book_visit: VISIT,
    Action.report_fault: FAULT,
    Action.talk_to_person: PERSON,
    Action.callback: PERSON,
    Action.show_balance: BALANCE,
    Action.top_up: BALANCE,
    Action.outages: OUTAGES,
    Action.complaint: COMPLAINT,
}


def utility_label(utility: Utility) -> str:
    return {
        Utility.gas: _("🔥 Gas"),
        Utility.water: _("💧 Water"),
        Utility.power: _("⚡ Power"),
        Utility.general: _("📄 General"),
    }[utility]


def action_label(target: str) -> str:
    return {
        VISIT: _("📅 Book a visit"),
        FAULT: _("🛠 Report a problem"),
        PERSON: _("👩‍💼 Talk to a person"),
        BALANCE: _("💳 My balance"),
        OUTAGES: _("⚡ Outages near me"),
        COMPLAINT: _("📝 Make a complaint"),
    }[target]


def short_title(topic: Topic, lang: Lang) -> str:
    """The topic's title made to fit a big button: 2-12 Chinese characters or at most six English words."""
    title = topic.title.get(lang).strip()
    if lang == "zh":
        return title if len(title) <= 12 else title[:11] + "…"
    title = title.split(",")[0].split(" (")[0]
    words = title.split()
    if len(words) > MAX_WORDS:
        words = [w for w in words if w.lower() not in ("a", "an", "the")]
    if len(words) > MAX_WORDS:
        words = [*words[:MAX_WORDS - 1], words[MAX_WORDS - 1] + "…"]
    return " ".join(words)


def topic_emoji(topic: Topic) -> str:
    return {Kind.emergency: "🚨", Kind.business: "📄", Kind.info: "💡"}[topic.kind]


def current_topic(g: G) -> Topic | None:
    """The topic of this screen: kept in its stack entry, so Back always returns to the same guide."""
    slug = g.top.get("slug") or g.data.get("topic")
    return g.ctx.catalogue.get(slug) if isinstance(slug, str) else None


def items(topic: Topic, part: str, lang: Lang) -> list[str]:
    """The plain-text items of one part of a topic (documents with their condition in plain words)."""
    notice = topic.notice
    if part == DOCUMENTS and notice is not None:
        out = []
        for doc in notice.documents:
            text = doc.get(lang)
            if doc.when is not None:
                text += "\n" + _("Only needed: {condition}.").format(condition=doc.when.get(lang).rstrip("。."))
            out.append(text)
        return out
    if part == STEPS and notice is not None:
        return [s.get(lang) for s in notice.steps]
    if part == SAFETY:
        return [s.get(lang) for s in topic.safety]
    if part == DETAILS:
        return [b.get(lang) for b in topic.body]
    return []


def cards(topic: Topic, part: str, lang: Lang) -> list[tuple[int, int, str]]:
    """(number, count, text) of every message of a part; a long item is read in two messages."""
    texts = items(topic, part, lang)
    out = []
    for n, text in enumerate(texts, start=1):
        for piece in split_text(text, MAX_TEXT - 60):
            out.append((n, len(texts), piece))
    return out


def card_heading(part: str, n: int, count: int) -> str:
    return {
        DOCUMENTS: _("📋 What to bring, {n} of {count}:"),
        STEPS: _("🪜 Step {n} of {count}:"),
        SAFETY: _("⚠️ Safety, {n} of {count}:"),
        DETAILS: _("📖 Good to know, {n} of {count}:"),
    }[part].format(n=n, count=count)


async def send_notice(g: G, topic: Topic) -> None:
    """R1: the written one-time notice as a PDF, numbered and kept on file (core.notices)."""
    locale = g.locale
    try:
        row = await notices.issue_notice(
            g.session, catalogue=g.ctx.catalogue, gettext=lambda s: g.ctx.translator.gettext(locale, s),
            resident=g.resident, slug=topic.slug, have=[], language=locale, now=g.ctx.clock.now(),
        )
    except notices.NoticeUnavailable:
        log.warning("written notice unavailable for %s", topic.slug, exc_info=True)
        await g.say(_("Sorry, the written notice cannot be made right now. Any service hall can print it for you."))
        return
    assert row.pdf is not None  # issue_notice returns a notice with its PDF
    caption = _("📄 Your written notice: {title}.\nNumber: {reference}. Please keep it and bring it with you.").format(
        title=esc(topic.title.get(g.lang)), reference=row.reference)
    await g.message.answer_document(
        BufferedInputFile(row.pdf, filename=notices.notice_filename(row.reference, locale)), caption=caption)


# --- pages ------------------------------------------------------------------------------------------------


@page
class Guides(Page):
    id = GUIDES

    async def render(self, g: G) -> Screen:
        return Screen(_("📚 Guides. What is it about? Tap one."),
                      [Option(u.value, utility_label(u)) for u in Utility])

    async def choose(self, g: G, key: str) -> None:
        if key in {u.value for u in Utility}:
            g.data["guide_utility"] = key
            g.go(TOPICS)


@page
class Topics(Page):
    id = TOPICS

    def _topics(self, g: G) -> list[Topic]:
        utility = g.data.get("guide_utility") or Utility.general.value
        # Emergencies first: the resident who needs one must not have to page for it.
        topics = g.ctx.catalogue.by_utility(utility)
        return sorted(topics, key=lambda t: t.kind is not Kind.emergency)

    async def render(self, g: G) -> Screen:
        utility = Utility(g.data.get("guide_utility") or Utility.general.value)
        topics = self._topics(g)
        if not topics:
            return Screen(_("Sorry, there are no guides here yet. Please tap Back."))
        options = [Option(t.slug, f"{topic_emoji(t)} {short_title(t, g.lang)}") for t in topics]
        return Screen(_("{utility}: which one do you need? Tap it.").format(
            utility=utility_label(utility)), options)

    async def choose(self, g: G, key: str) -> None:
        if key in g.ctx.catalogue:
            g.data["topic"] = key
            g.go(GUIDE_TOPIC)


@page
class TopicPage(Page):
    """One topic: its summary once, then what to read or do next."""

    id = GUIDE_TOPIC

    def _options(self, g: G, topic: Topic) -> list[Option]:
        options = []
        actions = []
        for action in topic.actions:
            target = ACTION_PAGES.get(action)
            if target and target in PAGES and target not in actions:
                actions.append(target)
        action_options = [Option(f"go:{t}", action_label(t)) for t in actions]
        if topic.kind is Kind.emergency:
            options += action_options  # in an emergency, doing comes before reading
        if topic.safety:
            options.append(Option(SAFETY, _("⚠️ Safety steps")))
        if topic.notice is not None:
            options.append(Option(DOCUMENTS, _("📋 What to bring")))
            options.append(Option(STEPS, _("🪜 Steps")))
            options.append(Option("notice", _("📄 Written notice")))
        elif topic.body:
            options.append(Option(DETAILS, _("📖 Good to know")))
        if topic.kind is not Kind.emergency:
            options += action_options
        if g.top.get("q"):  # the matcher's answer to a typed question: the resident may say it is not it,
            # on the first screen of buttons (the last place before "More"), except in an emergency,
            # whose actions and safety steps keep that screen
            at = len(options) if topic.kind is Kind.emergency else min(len(options), PAGE - 2)
            options.insert(at, Option(NOT_THIS, _("🤔 Not what I asked")))
        return options

    async def render(self, g: G) -> Screen:
        topic = current_topic(g)
        if topic is None:
            return Screen(_("Sorry, this guide is no longer available. Please tap Back."))
        g.top["slug"] = topic.slug
        if "q" not in g.top:
            g.top["q"] = g.data.pop("answered_q", 0)
        if not g.top.get("said"):
            g.top["said"] = True
            title = f"<b>{esc(topic.title.get(g.lang))}</b>"
            for i, chunk in enumerate(split_text(topic.summary.get(g.lang), MAX_TEXT - 60)):
                text = esc(chunk)
                await g.say(f"{title}\n{text}" if i == 0 else text)
        return Screen(_("What would you like to see? Tap a button."), self._options(g, topic))

    async def choose(self, g: G, key: str) -> None:
        topic = current_topic(g)
        if topic is None:
            return
        if key.startswith("go:"):
            target = key[3:]
            if target == FAULT:
                await start_from_topic(g, topic.slug)  # the report this guide is about
                return
            g.go(target)
        elif key == NOT_THIS and g.top.get("q"):
            await not_this(g, int(g.top["q"]))
        elif key == "notice":
            await send_notice(g, topic)
        elif key in (DOCUMENTS, STEPS, SAFETY, DETAILS) and cards(topic, key, g.lang):
            g.stack.append({"id": SEQUENCE, "slug": topic.slug, "part": key, "i": 0})


async def not_this(g: G, question_id: int) -> None:
    """The answer to a typed question was not it: its runner-ups on big buttons, or type it again."""
    g.top["q"] = 0
    row = await questions.set_outcome(g.session, question_id=question_id, resident_id=g.resident.id,
                                      outcome=QuestionOutcome.not_this)
    if row is None:
        return
    others = [slug for slug in questions.other_topics(row) if slug in g.ctx.catalogue]
    if others:
        g.data["question"] = {"id": row.id, "topics": others}
        g.go(QUESTION_CHOICE)
    else:
        g.go(QUESTION_NONE)


def leave_sequence(g: G) -> None:
    while len(g.stack) > 1 and g.top["id"] == SEQUENCE:
        g.back()


@page
class Sequence(Page):
    """One numbered item of a list; "Next" goes on, Back goes to the previous item."""

    id = SEQUENCE

    def _state(self, g: G) -> tuple[Topic | None, str, list[tuple[int, int, str]], int]:
        topic = current_topic(g)
        part = str(g.top.get("part", STEPS))
        all_cards = cards(topic, part, g.lang) if topic is not None else []
        i = min(int(g.top.get("i", 0)), max(len(all_cards) - 1, 0))
        return topic, part, all_cards, i

    async def render(self, g: G) -> Screen:
        topic, part, all_cards, i = self._state(g)
        if topic is None or not all_cards:
            return Screen(_("Sorry, this guide is no longer available. Please tap Back."))
        n, count, text = all_cards[i]
        options: list[Option] = []
        last = i == len(all_cards) - 1
        if not last:
            options.append(Option("next", _("➡️ Next")))
            options.append(Option("guide", _("📘 Back to the guide")))
        else:
            if part == DOCUMENTS and topic.notice is not None:
                options.append(Option("notice", _("📄 Written notice")))
            options.append(Option("guide", _("✅ That is all")))
        return Screen(f"{card_heading(part, n, count)}\n{esc(text)}", options)

    async def choose(self, g: G, key: str) -> None:
        topic, part, all_cards, i = self._state(g)
        if key == "next" and i + 1 < len(all_cards):
            g.stack.append({"id": SEQUENCE, "slug": g.top.get("slug"), "part": part, "i": i + 1})
        elif key == "guide":
            leave_sequence(g)
        elif key == "notice" and topic is not None:
            await send_notice(g, topic)
            leave_sequence(g)

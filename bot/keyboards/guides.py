"""Callback data and inline keyboards of the knowledge features (guides, checklists, questions).

Kept apart from the routers so guides, checklist, escalation and ask can all build each other's
buttons without importing each other. Topics travel as their index in the catalogue (file order)
plus a short fingerprint, so every button fits Telegram's 64-byte callback limit and a button
from before a content change is recognised as stale instead of opening the wrong topic.
"""

from __future__ import annotations

import hashlib
import weakref
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import GuidedOffer, GuidedOfferCallback
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_COMPLAINT, MENU_FAULT, MENU_HUMAN, MENU_OUTAGES, MENU_VISIT
from knowledge.catalogue import Catalogue
from knowledge.models import Action, Lang, Topic, Utility

BUTTON_CHARS = 40  # a longer label is cut on a phone screen anyway
MAX_RELATED = 2


# --- topics by index --------------------------------------------------------------------------------

_INDEX: weakref.WeakKeyDictionary[Catalogue, dict[str, int]] = weakref.WeakKeyDictionary()


def topic_index(catalogue: Catalogue, slug: str) -> int:
    index = _INDEX.get(catalogue)
    if index is None:  # built once per catalogue; a catalogue never changes while running
        index = _INDEX[catalogue] = {s: i for i, s in enumerate(catalogue.slugs)}
    return index[slug]


def topic_at(catalogue: Catalogue, index: int) -> Topic | None:
    slugs = catalogue.slugs
    return catalogue.get(slugs[index]) if 0 <= index < len(slugs) else None


def fingerprint(topic: Topic) -> str:
    """Changes when the topic's slug or document list changes (stale checklist buttons)."""
    docs = ",".join(d.id for d in topic.notice.documents) if topic.notice else ""
    return hashlib.sha1(f"{topic.slug}|{docs}".encode()).hexdigest()[:6]


def short(text: str, limit: int = BUTTON_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- callback data ----------------------------------------------------------------------------------

class GuideAct(StrEnum):
    home = "h"
    utility = "u"
    topic = "t"


class GuideCallback(CallbackData, prefix="gd"):
    act: GuideAct
    u: Utility | None = None
    t: CallbackInt = -1


class TopicActionCallback(CallbackData, prefix="ta"):
    """An action button under an answer that leads into another feature (book a visit, ...)."""

    action: Action
    t: CallbackInt


class ChecklistCallback(CallbackData, prefix="ck"):
    """t: topic index, d: document index to toggle (-1: just show), m: bitmask of ticked documents."""

    t: CallbackInt
    d: CallbackInt = -1
    m: CallbackInt = 0
    v: str


class NoticeCallback(CallbackData, prefix="nt"):
    t: CallbackInt
    m: CallbackInt = 0
    v: str


class Escalate(StrEnum):
    person = "p"
    callback = "c"


class EscalateCallback(CallbackData, prefix="esc"):
    """Talk to a person / call me back (R10). q: question_log id it is about (0: none); t: topic index."""

    what: Escalate
    q: CallbackInt = 0
    t: CallbackInt = -1


class AskChoiceCallback(CallbackData, prefix="aq"):
    """One of the topics offered for an ambiguous question. q: question_log id, t: topic index."""

    q: CallbackInt
    t: CallbackInt


class AskNoneCallback(CallbackData, prefix="an"):
    """"None of these" under the offered topics (issue 14). q: question_log id."""

    q: CallbackInt


class AskNotThisCallback(CallbackData, prefix="ax"):
    """"Not what I asked" under a confident answer: offer its runner-ups. q: question_log id."""

    q: CallbackInt


# --- keyboards --------------------------------------------------------------------------------------

def utility_label(utility: Utility) -> str:
    return {
        Utility.gas: _("🔥 Gas"),
        Utility.water: _("💧 Water"),
        Utility.power: _("⚡ Power"),
        Utility.general: _("🏢 Payments, visits and other services"),
    }[utility]


def utilities_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for utility in Utility:
        kb.button(text=utility_label(utility), callback_data=GuideCallback(act=GuideAct.utility, u=utility))
    kb.adjust(2, 2)
    return kb.as_markup()


def topics_keyboard(catalogue: Catalogue, utility: Utility, lang: Lang) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for topic in catalogue.by_utility(utility):
        kb.button(text=short(topic.title.get(lang)),
                  callback_data=GuideCallback(act=GuideAct.topic, t=topic_index(catalogue, topic.slug)))
    kb.button(text=_("⬅️ All guides"), callback_data=GuideCallback(act=GuideAct.home))
    kb.adjust(1)
    return kb.as_markup()


def action_label(action: Action) -> str:
    return {
        Action.book_visit: str(MENU_VISIT),
        Action.report_fault: str(MENU_FAULT),
        Action.talk_to_person: str(MENU_HUMAN),
        Action.complaint: str(MENU_COMPLAINT),
        Action.show_balance: _("💳 My balance"),
        Action.top_up: _("💳 Top up"),
        Action.outages: str(MENU_OUTAGES),
        Action.tariff_calculator: _("🧮 Water bill calculator"),
        Action.callback: _("📞 Call me back"),
    }[action]


def topic_keyboard(catalogue: Catalogue, topic: Topic, lang: Lang, *, question_id: int = 0,
                   not_this: bool = False) -> InlineKeyboardMarkup:
    """Buttons under an answer: checklist, the topic's actions, related guides, back to the list;
    ``not_this``: the answer was the matcher's guess at a typed question, so the resident can say
    it is not what they asked."""
    idx = topic_index(catalogue, topic.slug)
    kb = InlineKeyboardBuilder()
    if topic.notice is not None:
        kb.button(text=_("✅ Tick off my documents"),
                  callback_data=ChecklistCallback(t=idx, v=fingerprint(topic)))
    for action in topic.actions:
        if action is Action.talk_to_person:
            data: CallbackData = EscalateCallback(what=Escalate.person, q=question_id, t=idx)
        elif action is Action.callback:
            data = EscalateCallback(what=Escalate.callback, q=question_id, t=idx)
        else:
            data = TopicActionCallback(action=action, t=idx)
        kb.button(text=action_label(action), callback_data=data)
    for slug in topic.related[:MAX_RELATED]:
        related = catalogue.get(slug)
        if related is not None:
            kb.button(text=short("📖 " + related.title.get(lang)),
                      callback_data=GuideCallback(act=GuideAct.topic, t=topic_index(catalogue, slug)))
    if not_this and question_id:
        kb.button(text=_("🤔 Not what I asked"), callback_data=AskNotThisCallback(q=question_id))
    kb.button(text=_("⬅️ More guides"), callback_data=GuideCallback(act=GuideAct.utility, u=topic.utility))
    kb.adjust(1)
    return kb.as_markup()


def escalation_keyboard(*, question_id: int = 0, topic: int = -1, offer_simple_mode: bool = False
                        ) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=str(MENU_HUMAN), callback_data=EscalateCallback(what=Escalate.person, q=question_id, t=topic))
    kb.button(text=_("📞 Call me back"), callback_data=EscalateCallback(what=Escalate.callback, q=question_id,
                                                                        t=topic))
    if offer_simple_mode:
        kb.button(text=_("🔠 Try simple mode (big buttons)"),
                  callback_data=GuidedOfferCallback(choice=GuidedOffer.on))
    kb.adjust(1)
    return kb.as_markup()


def choices_keyboard(catalogue: Catalogue, slugs: list[str], lang: Lang, question_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for slug in slugs:
        topic = catalogue.get(slug)
        if topic is not None:
            kb.button(text=short(topic.title.get(lang)),
                      callback_data=AskChoiceCallback(q=question_id, t=topic_index(catalogue, slug)))
    kb.button(text=_("🤔 None of these"), callback_data=AskNoneCallback(q=question_id))
    kb.adjust(1)
    return kb.as_markup()

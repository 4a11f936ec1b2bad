"""What every part of the chat desk shares: hours, queue priorities, limits, errors, ownership (R6)."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Any

from core import language_guard
from core.clock import LOCAL_TZ, local
from core.context import AppContext
from core.staff import owns
from db.enums import ConversationStatus
from db.models import Conversation, StaffUser


def N_(s: str) -> str:
    """Mark a msgid for extraction; it is translated later in the resident's language."""
    return s


# Staffed hours of the chat desk (site.yaml general_agent_hours) on working days of ctx.calendar.
OPENS = time(8, 30)
CLOSES = time(17, 30)

# Queue priority: higher first. A voice note cannot be read by the bot, and guided-mode residents
# (mostly elderly, R2) should not wait behind everyone else.
PRIORITY_NORMAL = 0
PRIORITY_GUIDED = 1
PRIORITY_VOICE = 2
# Outbox priority of chat traffic: a live conversation goes before status notices and broadcasts.
OUTBOX_PRIORITY = 50

MAX_TEXT = 8000  # a long reply (a full checklist plus a note) goes out as several messages
CHUNK = 3000  # per Telegram message, leaving room for HTML escaping and the agent's name under 4096
QUEUE_LIMIT = 200  # rows on the queue page; the count above it is exact
SURVEY_CATEGORY = "chat"  # Survey.category of a handed-off conversation (reports group by it)


class Reason(StrEnum):
    button = "button"  # "talk to a person" in the menu or under an answer
    voice = "voice"
    not_understood = "not_understood"
    guided = "guided"


class HandoffError(Exception):
    """A console action that cannot be done; ``message`` is shown to the agent."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GuardWarning(HandoffError):
    """R14: the text contains forbidden phrases; nothing was sent."""

    def __init__(self, hits: list[language_guard.Hit], text: str) -> None:
        super().__init__("The message contains phrases that must not be used (R14).", status=422)
        self.hits = hits
        self.suggestion = language_guard.polite_version(text)


# -- callback data shared with bot/routers/handoff.py (no aiogram types in core) ----------------------------

def end_chat_data(conversation_id: int) -> str:
    """Packed ``HandoffCallback(action=end, conv=id)``."""
    return f"ho:end:{conversation_id}"


# -- working hours ----------------------------------------------------------------------------------------------

def is_staffed(ctx: AppContext, now: datetime) -> bool:
    """Is a person at the chat desk now? Working days of the calendar, 8:30–17:30 local time."""
    t = local(now)
    return ctx.calendar.is_working_day(t.date()) and OPENS <= t.time() < CLOSES


def next_staffed(ctx: AppContext, now: datetime) -> datetime:
    """When the desk opens next (``now`` itself if it is open)."""
    if is_staffed(ctx, now):
        return now
    t = local(now)
    day = t.date()
    if not (ctx.calendar.is_working_day(day) and t.time() < OPENS):
        day = ctx.calendar.add_working_days(day, 1)
    return datetime.combine(day, OPENS, tzinfo=LOCAL_TZ)


def require_owner(conversation: Conversation, staff: StaffUser) -> None:
    if conversation.status == ConversationStatus.closed:
        raise HandoffError("This conversation is closed.")
    if conversation.status != ConversationStatus.active or not owns(conversation.owner_id, staff):
        raise HandoffError("Only the agent who owns this conversation can do that (R6).", status=403)


def end_button(ctx: AppContext, lang: str, conversation_id: int) -> list[list[dict[str, Any]]]:
    label = ctx.translator.gettext(lang, N_("✅ End chat"))
    return [[{"text": label, "callback_data": end_chat_data(conversation_id)}]]

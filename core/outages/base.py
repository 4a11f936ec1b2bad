"""Outage vocabulary shared by the other modules: R9 lead times, limits, titles, errors."""

from __future__ import annotations

from datetime import time, timedelta

from core.i18n import LOCALES, normalize_locale
from db.enums import OutageKind, Utility


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated later, in the resident's language."""
    return message


# R9 lead times.
PLANNED_LEAD_WORKING_DAYS = 7
TEMPORARY_LEAD = timedelta(hours=24)
# An announced outage whose estimated restoration passed this long ago without a restoration or extension
# is no longer treated as "the reason" for a fault: a forgotten notice must not swallow new fault reports (R8).
STALE_AFTER = timedelta(hours=12)
REMINDER_FROM = time(9, 0)  # day-before reminders are not sent at night
MAX_AREA_ENTRIES = 300
MAX_REASON = 1000
MAX_NOTE = 1000
MIN_OVERRIDE_REASON = 10
NUMBER_PREFIX = "TG"  # 停供

TITLES: dict[tuple[OutageKind, Utility], str] = {
    (OutageKind.planned, Utility.water): N_("Planned water outage"),
    (OutageKind.temporary, Utility.water): N_("Temporary water outage"),
    (OutageKind.emergency, Utility.water): N_("Emergency water outage"),
    (OutageKind.planned, Utility.gas): N_("Planned gas outage"),
    (OutageKind.temporary, Utility.gas): N_("Temporary gas outage"),
    (OutageKind.emergency, Utility.gas): N_("Emergency gas outage"),
    (OutageKind.planned, Utility.power): N_("Planned power outage"),
    (OutageKind.temporary, Utility.power): N_("Temporary power outage"),
    (OutageKind.emergency, Utility.power): N_("Emergency power outage"),
}
ICONS = {OutageKind.planned: "📢", OutageKind.temporary: "⚠️", OutageKind.emergency: "🚨"}
FOLLOW_UP_KINDS = ("delayed", "extended", "progress")


class OutageError(ValueError):
    """A request the service refuses; the message is shown to staff as is (English · 中文)."""


class ImpoliteNotice(OutageError):
    """R14: the reason or note of a notice contains a forbidden phrase."""


class LeadTimeError(OutageError):
    """R9: the notice comes too late; only a supervisor's recorded justification lets it through."""


def locale_of(lang: str | None) -> str:
    return lang if lang in LOCALES else normalize_locale(lang)

"""Outage notices (R9): announce, follow up and restore; who is affected; what to tell a resident who asks.

A package, one module per concern (areas, lifecycle, audience, reminders, texts, lookups) over a shared
``base``; this file only re-exports their public names so callers keep writing ``outages.announce``.
"""

from core.outages.areas import (
    area_districts,
    area_label,
    area_matches,
    known_addresses,
    known_districts,
    normalize_area,
    unmatched_area_entries,
)
from core.outages.audience import AudiencePreview, audience, audience_preview
from core.outages.base import (
    FOLLOW_UP_KINDS,
    ICONS,
    MAX_AREA_ENTRIES,
    MAX_NOTE,
    MAX_REASON,
    MIN_OVERRIDE_REASON,
    NUMBER_PREFIX,
    PLANNED_LEAD_WORKING_DAYS,
    REMINDER_FROM,
    STALE_AFTER,
    TEMPORARY_LEAD,
    TITLES,
    ImpoliteNotice,
    LeadTimeError,
    OutageError,
)
from core.outages.lifecycle import (
    announce,
    cancel,
    create_notice,
    events_of,
    follow_up,
    get_notice,
    lead_time_problem,
    list_notices,
    restore,
    update_draft,
)
from core.outages.lookups import (
    ResidentOutages,
    active_outages_at,
    is_active,
    outage_for_resident,
    resident_outages,
    subscriptions,
    toggle_subscription,
)
from core.outages.reminders import reminder_due, send_due_reminders
from core.outages.texts import event_text, outage_answer, outage_text, outage_title

__all__ = [
    "FOLLOW_UP_KINDS", "ICONS", "MAX_AREA_ENTRIES", "MAX_NOTE", "MAX_REASON", "MIN_OVERRIDE_REASON",
    "NUMBER_PREFIX", "PLANNED_LEAD_WORKING_DAYS", "REMINDER_FROM", "STALE_AFTER", "TEMPORARY_LEAD", "TITLES",
    "AudiencePreview", "ImpoliteNotice", "LeadTimeError", "OutageError", "ResidentOutages", "active_outages_at",
    "announce", "area_districts", "area_label", "area_matches", "audience", "audience_preview", "cancel",
    "create_notice", "event_text", "events_of", "follow_up", "get_notice", "is_active", "known_addresses",
    "known_districts", "lead_time_problem", "list_notices", "normalize_area", "outage_answer",
    "outage_for_resident", "outage_text", "outage_title", "reminder_due", "resident_outages", "restore",
    "send_due_reminders", "subscriptions", "toggle_subscription", "unmatched_area_entries", "update_draft",
]

"""What residents are told: the notice, each update and the answer to "why no water?", in their language."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from babel.dates import format_datetime

from core.clock import LOCAL_TZ
from core.i18n import Translator
from core.outages.areas import area_label
from core.outages.base import ICONS, N_, TITLES, locale_of
from core.settings import ROOT
from db.enums import OutageStatus
from db.models import OutageNotice

# --- what residents are told -----------------------------------------------------------------------------


@cache
def _default_translator() -> Translator:
    return Translator(ROOT / "bot" / "locales")


def _when(dt: datetime, lang: str) -> str:
    if lang == "en":
        return format_datetime(dt, "EEE d MMM, HH:mm", locale="en", tzinfo=LOCAL_TZ)
    return format_datetime(dt, "M月d日 EEE HH:mm", locale="zh_Hans_CN", tzinfo=LOCAL_TZ)


def outage_title(outage: OutageNotice, lang: str | None, *, translator: Translator | None = None) -> str:
    lang = locale_of(lang)
    return (translator or _default_translator()).gettext(lang, TITLES[(outage.kind, outage.utility)])


def _body(outage: OutageNotice, lang: str, gettext: Any) -> list[str]:
    reason = outage.reason_en if lang == "en" else outage.reason_zh
    return [
        gettext(N_("Area: {area}")).format(area=html.escape(area_label(outage.area, lang))),
        gettext(N_("From: {start}")).format(start=_when(outage.starts_at, lang)),
        gettext(N_("Estimated restoration: {restore}")).format(restore=_when(outage.restore_at, lang)),
        gettext(N_("Reason: {reason}")).format(reason=html.escape(reason)),
    ]


def outage_text(outage: OutageNotice, lang: str | None, *, now: datetime | None = None,
                translator: Translator | None = None) -> str:
    """The notice as a resident reads it (HTML): what, where, from when, estimated restoration, reason and an
    apology (R9). With ``now``, also whether it is under way or overdue."""
    lang = locale_of(lang)
    tr = translator or _default_translator()

    def gettext(msg: str) -> str:
        return tr.gettext(lang, msg)

    lines = [f"{ICONS[outage.kind]} <b>{html.escape(outage_title(outage, lang, translator=tr))}</b> · "
             f"{outage.number}"]
    if now is not None and outage.status is OutageStatus.announced and outage.starts_at <= now:
        if outage.restore_at < now:
            lines.append(gettext(N_("Restoration is taking longer than estimated; our crews are working on it.")))
        else:
            lines.append(gettext(N_("In progress now.")))
    lines += _body(outage, lang, gettext)
    lines.append(gettext(N_("We apologise for the inconvenience and thank you for your understanding.")))
    return "\n".join(lines)


def event_text(outage: OutageNotice, kind: str, lang: str | None, *, note: str | None = None,
               translator: Translator | None = None) -> str:
    """The broadcast text of one update of a notice, in one language."""
    lang = locale_of(lang)
    tr = translator or _default_translator()

    def gettext(msg: str) -> str:
        return tr.gettext(lang, msg)

    title = html.escape(outage_title(outage, lang, translator=tr))
    head = f"{ICONS[outage.kind]} <b>{title}</b> · {outage.number}"
    note_line = [gettext(N_("Note: {note}")).format(note=html.escape(note))] if note else []
    if kind == "restored":
        when = _when(outage.restored_at or outage.restore_at, lang)
        return "\n".join([
            gettext(N_("✅ <b>Supply restored</b>")) + f" · {outage.number}",
            gettext(N_("{title} · {area}: supply was restored at {time}. Thank you for your patience.")).format(
                title=title, area=html.escape(area_label(outage.area, lang)), time=when),
        ])
    if kind == "cancelled":
        return "\n".join([
            gettext(N_("ℹ️ <b>Notice withdrawn</b>")) + f" · {outage.number}",
            gettext(N_("{title} · {area}: this work will not take place; supply continues as normal. "
                       "Sorry for any confusion.")).format(title=title,
                                                           area=html.escape(area_label(outage.area, lang))),
        ])
    lead = {
        "announced": [],
        "reminder": [gettext(N_("⏰ Reminder: this work starts {start}.")).format(
            start=_when(outage.starts_at, lang))],
        "delayed": [gettext(N_("🕒 Update: the work has been postponed. New times below."))],
        "extended": [gettext(N_("🕒 Update: restoration will take longer than announced. New estimate below."))],
        "progress": [gettext(N_("🕒 Progress update."))],
    }[kind]
    return "\n".join([head, *lead, *note_line, *_body(outage, lang, gettext),
                      gettext(N_("We apologise for the inconvenience and thank you for your understanding."))])


def outage_answer(outages: Sequence[OutageNotice], lang: str | None, *, now: datetime,
                  translator: Translator | None = None) -> str:
    """The reply to "why is there no water?" from inside an outage area (R9: reason + apology; R8: no ticket)."""
    lang = locale_of(lang)
    tr = translator or _default_translator()
    intro = tr.gettext(lang, N_("We know about this outage in your area; there is no need to report it. "
                                "Here is the notice:"))
    return "\n\n".join([intro, *(outage_text(o, lang, now=now, translator=tr) for o in outages)])

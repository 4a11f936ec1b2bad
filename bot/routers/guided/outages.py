"""Guided mode: outages at the resident's addresses in short messages, and district notices by big buttons (R9).

The addresses are those of the linked accounts (core.outages); a resident without one, or caring for a relative
elsewhere, subscribes to a district's notices with one tap and stops them the same way.
"""

from __future__ import annotations

import html
from datetime import datetime

from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from bot.guided.engine import G, Page, page
from bot.guided.ids import BALANCE, OUTAGES
from bot.guided.ui import Option, Screen
from core import outages
from core.clock import LOCAL_TZ
from db.models import OutageNotice

DISTRICTS = "outages.districts"
MAX_SHOWN = 5  # messages per visit: more than that is not "short" any more
MAX_AREA = 60
MAX_REASON = 80


def _when(dt: datetime, lang: str) -> str:
    if lang == "en":
        return format_datetime(dt, "EEE d MMM, HH:mm", locale="en", tzinfo=LOCAL_TZ)
    return format_datetime(dt, "M月d日 EEE HH:mm", locale="zh_Hans_CN", tzinfo=LOCAL_TZ)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def short_notice(o: OutageNotice, g: G, now: datetime) -> str:
    """One outage in a few plain lines (well under 300 characters)."""
    lang = "en" if g.locale == "en" else "zh_Hans"
    title = outages.outage_title(o, lang, translator=g.ctx.translator)
    lines = [f"{outages.ICONS[o.kind]} {html.escape(title)}"]
    if outages.is_active(o, now):
        lines.append(_("Now, until about {time}.").format(time=_when(o.restore_at, lang)))
    else:
        lines.append(_("From {start} to about {end}.").format(start=_when(o.starts_at, lang),
                                                             end=_when(o.restore_at, lang)))
    lines.append(_("Where: {area}").format(area=html.escape(_cut(outages.area_label(o.area, lang), MAX_AREA))))
    reason = o.reason_en if lang == "en" else o.reason_zh
    lines.append(_("Why: {reason}").format(reason=html.escape(_cut(reason, MAX_REASON))))
    lines.append(_("We are sorry for the trouble."))
    return "\n".join(lines)


@page
class Outages(Page):
    id = OUTAGES

    async def render(self, g: G) -> Screen:
        now = g.ctx.clock.now()
        found = await outages.resident_outages(g.session, resident_id=g.resident.id, now=now)
        options = [Option("districts", _("🔔 Notify me for a district"))]
        if not found.addresses and not found.districts:
            return Screen(_("I do not know your address yet. Link your account, or choose a district to get its "
                            "notices."), [*options, Option("link", _("🔗 Link my account"))])
        shown = (found.current + found.upcoming)[:MAX_SHOWN]
        if not g.top.get("said"):  # the notices once, not again when coming Back to this screen
            g.top["said"] = True
            for o in shown:
                await g.say(short_notice(o, g, now))
        if not shown:
            text = _("✅ No outage now or planned at your addresses.")
        else:
            text = _("Outages at your addresses: {current} now, {upcoming} planned. See above.").format(
                current=len(found.current), upcoming=len(found.upcoming))
        if found.districts:
            text += "\n" + _("You also get the notices of: {districts}").format(districts="、".join(found.districts))
        return Screen(text, options)

    async def choose(self, g: G, key: str) -> None:
        if key == "districts":
            g.go(DISTRICTS)
        elif key == "link":
            g.stack = [g.stack[0], {"id": BALANCE}]


@page
class Districts(Page):
    id = DISTRICTS

    async def render(self, g: G) -> Screen:
        districts = await outages.known_districts(g.session)
        subscribed = set(await outages.subscriptions(g.session, g.resident.id))
        options = [Option(f"d:{d}", _("🔕 Stop {district}").format(district=d) if d in subscribed else f"🔔 {d}")
                   for d in districts]
        text = _("Tap a district to get its outage notices. Tap it again to stop.")
        if subscribed:
            text += "\n" + _("You get the notices of: {districts}").format(districts="、".join(sorted(subscribed)))
        return Screen(text, options)

    async def choose(self, g: G, key: str) -> None:
        district = key[2:] if key.startswith("d:") else ""
        if district not in await outages.known_districts(g.session):
            await g.say(_("This list was out of date; here is the current one."))
            return
        on = await outages.toggle_subscription(g.session, resident_id=g.resident.id, district=district,
                                               now=g.ctx.clock.now())
        await g.say((_("🔔 Done. You will get outage notices for {district}.") if on
                     else _("🔕 Done. You will no longer get outage notices for {district}.")).format(
                         district=html.escape(district)))

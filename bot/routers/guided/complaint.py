"""Guided mode: a complaint by big buttons (R5) — what it is about, optionally which recent request, a plain
confirmation, then a complaint ticket with its number and the written reply due in 3 working days (R3).

Typing extra words is welcome but never needed; a phone number for a call comes from the contact button and
must be the resident's own.
"""

from __future__ import annotations

import html
import uuid

from aiogram.utils.i18n import gettext as _

from bot.forms.phone import PhoneProblem, mask_phone, read_contact
from bot.guided.engine import G, Page, page
from bot.guided.ids import COMPLAINT, REQUESTS
from bot.guided.ui import Option, Screen
from bot.routers.guided.places import warn_if_emergency
from bot.routers.guided.requests import Item, item_label, my_items
from core import tickets
from core.tickets import MAX_DESCRIPTION
from db.models import Ticket

WHICH, CONFIRM, DONE = "complaint.which", "complaint.confirm", "complaint.done"
TOPICS = ("staff", "wait", "repair", "bill", "other")
# What staff read in the console (the ticket is for them; they work in Chinese, with English beside it).
STAFF_TOPICS = {
    "staff": "服务态度 Staff attitude",
    "wait": "等待太久 Waited too long",
    "repair": "维修质量 Repair quality",
    "bill": "账单收费 Bill or charges",
    "other": "其他 Other",
}
RECENT = 3  # recent requests offered (with "none of them" that is four big buttons)
MAX_SHOWN_WORDS = 100  # of the resident's own words on the confirmation (the ticket keeps them all)


def topic_label(topic: str) -> str:
    return {
        "staff": _("😠 Staff attitude"),
        "wait": _("⏳ Waited too long"),
        "repair": _("🔧 Repair quality"),
        "bill": _("💴 Bill or charges"),
        "other": _("📝 Something else"),
    }[topic]


def _start(g: G) -> None:
    """A fresh form: one idempotency key for its whole life, so a double tap files one complaint."""
    if "c_key" not in g.data:
        g.forget("c_topic", "c_ref", "c_ref_what", "c_words", "c_phone")
        g.data["c_key"] = uuid.uuid4().hex


@page
class Complaint(Page):
    id = COMPLAINT

    async def render(self, g: G) -> Screen:
        _start(g)
        chosen = g.data.get("c_topic")
        options = [Option(t, ("✅ " if t == chosen else "") + topic_label(t)) for t in TOPICS]
        return Screen(_("We are sorry. What is your complaint about? We reply within 3 working days."), options)

    async def choose(self, g: G, key: str) -> None:
        if key not in TOPICS:
            return
        _start(g)
        g.data["c_topic"] = key
        g.go(WHICH if await my_items(g, limit=RECENT) else CONFIRM)


@page
class Which(Page):
    id = WHICH

    async def render(self, g: G) -> Screen:
        items = await my_items(g, limit=RECENT)
        chosen = g.data.get("c_ref")
        options = [Option(i.key, ("✅ " if i.number == chosen else "") + item_label(i)) for i in items]
        options = [*options, Option("none", _("➖ None of them"))]
        return Screen(_("Is it about one of your recent requests? Tap it."), options)

    async def choose(self, g: G, key: str) -> None:
        if key == "none":
            g.forget("c_ref", "c_ref_what")
        else:
            item: Item | None = next((i for i in await my_items(g, limit=RECENT) if i.key == key), None)
            if item is None:
                return
            g.data["c_ref"], g.data["c_ref_what"] = item.number, item.what
        g.go(CONFIRM)


@page
class Confirm(Page):
    id = CONFIRM

    async def render(self, g: G) -> Screen:
        if not g.data.get("c_topic"):
            return Screen(_("Please start again."), [Option("again", _("📝 Make a complaint"))])
        lines = [_("Please check your complaint."),
                 _("About: {topic}").format(topic=topic_label(g.data["c_topic"]))]
        if g.data.get("c_ref"):
            lines.append(_("About your request: {what}, number {number}").format(
                what=html.escape(g.data.get("c_ref_what") or ""), number=g.data["c_ref"]))
        words = g.data.get("c_words") or ""
        if words:
            cut = words[:MAX_SHOWN_WORDS] + ("…" if len(words) > MAX_SHOWN_WORDS else "")
            lines.append(_("Your words: {words}").format(words=html.escape(cut, quote=False)))
        if g.data.get("c_phone"):
            lines.append(_("We will call: {phone}").format(phone=mask_phone(g.data["c_phone"])))
        lines.append(_("Shall we send it?"))
        options = [Option("send", _("✅ Send complaint")), Option("words", _("✏️ Add some words"))]
        if not g.data.get("c_phone"):
            options.append(Option("call", _("📞 Call me about it"), contact=True))
        return Screen("\n".join(lines), options)

    async def choose(self, g: G, key: str) -> None:
        if key == "again":
            g.replace(COMPLAINT)
        elif key == "words":
            await g.say(_("Type a few words now and send them. Then tap “✅ Send complaint”."))
        elif key == "send":
            await self._send(g)

    async def text(self, g: G, text: str) -> bool:
        await warn_if_emergency(g, text)
        words = "\n".join(w for w in (g.data.get("c_words"), text.strip()) if w)
        if len(words) > MAX_DESCRIPTION - 200:
            await g.say(_("That is too long. Please keep it shorter."))
            return True
        g.data["c_words"] = words
        await g.say(_("Thank you, I added your words."))
        return True

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        reading = read_contact(phone, own)  # the form kit's rule: only the resident's own, readable number
        if reading.problem is PhoneProblem.not_own:
            await g.say(_("Please tap the button to share your own number."))
        elif reading.phone is None:
            await g.say(_("Sorry, I could not read that number. We will reply here in the chat."))
        else:
            g.data["c_phone"] = reading.phone

    async def _send(self, g: G) -> None:
        topic = g.data.get("c_topic")
        if topic not in TOPICS or "c_key" not in g.data:
            return
        ref = g.data.get("c_ref")
        related: Ticket | None = None
        if ref:
            related = next((i.obj for i in await my_items(g, limit=10)
                            if i.number == ref and isinstance(i.obj, Ticket)), None)
        lines = [STAFF_TOPICS[topic] + (f" · {ref}" if ref else ""), "简易模式提交 Sent in simple mode"]
        if ref:
            lines.append(f"相关请求 Related request: {ref}")
        if g.data.get("c_words"):
            lines.append(f"居民原话 Resident's words: {g.data['c_words']}")
        try:
            ticket = await tickets.file_complaint(
                g.session, ctx=g.ctx, resident=g.resident, text="\n".join(lines)[:MAX_DESCRIPTION],
                contact_phone=g.data.get("c_phone"), idempotency_key=f"gcp-{g.data['c_key']}",
                utility=related.utility if related is not None else None)
        except tickets.InvalidInput:
            await g.say(_("Sorry, something went wrong. Please ask a person."))
            return
        g.forget("c_key", "c_topic", "c_ref", "c_ref_what", "c_words", "c_phone")
        await g.say(_("📝 Your complaint is sent. Its number is {number}. We reply in writing by {deadline}.").format(
            number=ticket.number, deadline=tickets.format_deadline(ticket.deadline_at, g.locale)))
        g.done(DONE)


@page
class Done(Page):
    id = DONE

    async def render(self, g: G) -> Screen:
        return Screen(_("You can follow it in “My requests”."), [Option(REQUESTS, _("📋 My requests"))])

    async def choose(self, g: G, key: str) -> None:
        if key == REQUESTS:
            g.go(REQUESTS)

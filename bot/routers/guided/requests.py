"""Guided mode: my requests — open and recent tickets and visits as big buttons, each opening one short message
with its status and deadline, and cancelling them with a confirmation where the rules allow (core.tickets /
core.appointments)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from aiogram.utils.i18n import gettext as _

from bot.guided.engine import G, Page, page
from bot.guided.ids import FAULT, PERSON, REQUESTS, VISIT
from bot.guided.ui import Option, Screen
from bot.keyboards.requests import (
    appointment_status_label,
    category_label,
    ticket_kind_label,
    ticket_status_label,
)
from core import appointments, tickets
from core.appointments import SERVICE_LABELS, format_day, format_window
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, ServiceType, TicketKind
from db.models import Appointment, Ticket

ITEM, CANCEL = "requests.item", "requests.cancel"
MAX_SHOWN = 6
ICONS = {TicketKind.fault: "🛠", TicketKind.complaint: "📝", TicketKind.callback: "📞", TicketKind.inquiry: "❓",
         TicketKind.followup: "⭐"}


@dataclass(frozen=True)
class Item:
    """One of the resident's requests as guided mode shows it: "t<id>" for a ticket, "a<id>" for a visit."""

    key: str
    icon: str
    what: str
    number: str
    obj: Ticket | Appointment


def what_of(obj: Ticket | Appointment) -> str:
    if isinstance(obj, Appointment):
        return _(SERVICE_LABELS[ServiceType(obj.service)])
    if obj.kind is TicketKind.fault:
        return category_label(obj.category).removeprefix("🚨 ")
    return ticket_kind_label(obj.kind)


async def my_items(g: G, *, limit: int = MAX_SHOWN) -> list[Item]:
    found = await tickets.resident_requests(g.session, resident_id=g.resident.id, now=g.ctx.clock.now())
    items = [Item(f"t{t.id}", ICONS.get(t.kind, "📄"), what_of(t), t.number, t) for t in found.tickets]
    items += [Item(f"a{a.id}", "📅", what_of(a), a.number, a) for a in found.appointments]
    items.sort(key=lambda i: i.obj.created_at, reverse=True)  # newest first, tickets and visits together
    return items[:limit]


def item_label(item: Item) -> str:
    """A big button: icon and what it is (燃气安全检查 / Gas safety inspection), at most five words."""
    words = item.what.split()
    what = item.what if len(words) <= 5 else " ".join(words[:4]) + "…"
    return f"{item.icon} {what}"


def item_message(item: Item, lang: str) -> str:
    lines = [f"{item.icon} {html.escape(item.what)}", _("Number: {number}").format(number=item.number)]
    obj = item.obj
    if isinstance(obj, Ticket):
        status = _("Status: {status}").format(status=ticket_status_label(obj.status))
        if obj.status in OPEN_TICKET_STATUSES:
            status += "\n" + _("We finish it by {deadline}.").format(
                deadline=tickets.format_deadline(obj.deadline_at, lang))
        lines.append(status)
    else:
        lines.append(_("Visit: {day}, {window}").format(day=format_day(obj.day, lang),
                                                        window=format_window(obj.window)))
        lines.append(_("Status: {status}").format(status=appointment_status_label(obj.status)))
        if obj.status is AppointmentStatus.requested:  # R2: answered within 1 working day
            lines.append(_("We confirm it by {deadline}.").format(
                deadline=tickets.format_deadline(obj.respond_by, lang)))
        if obj.proposed_day and obj.proposed_window and obj.status is AppointmentStatus.proposed:
            lines.append(_("We suggest instead: {day}, {window}").format(
                day=format_day(obj.proposed_day, lang), window=format_window(obj.proposed_window)))
    return "\n".join(lines)


def can_cancel(item: Item, g: G) -> bool:
    if isinstance(item.obj, Ticket):
        return tickets.resident_can_cancel(item.obj)
    return appointments.resident_can_change(item.obj, g.ctx.clock.now())


@page
class Requests(Page):
    id = REQUESTS

    async def render(self, g: G) -> Screen:
        items = await my_items(g)
        if not items:
            return Screen(_("You have no requests yet."),
                          [Option(FAULT, _("🛠 Report a problem")), Option(VISIT, _("📅 Book a home visit"))])
        return Screen(_("Your requests: {count}. Tap one to see how it is going.").format(count=len(items)),
                      [Option(item.key, item_label(item)) for item in items])

    async def choose(self, g: G, key: str) -> None:
        if key in (FAULT, VISIT):
            g.go(key)
        elif key in {item.key for item in await my_items(g)}:
            g.data["r_sel"] = key
            g.go(ITEM)


async def selected(g: G) -> Item | None:
    key = g.data.get("r_sel") or ""
    return next((i for i in await my_items(g) if i.key == key), None)


@page
class Detail(Page):
    id = ITEM

    async def render(self, g: G) -> Screen:
        item = await selected(g)
        if item is None:
            return Screen(_("This request is not in your list any more."))
        options = [Option("cancel", _("✖️ Cancel it"))] if can_cancel(item, g) else []
        return Screen(item_message(item, g.locale), options)

    async def choose(self, g: G, key: str) -> None:
        if key == "cancel":
            g.go(CANCEL)


@page
class Cancel(Page):
    id = CANCEL

    async def render(self, g: G) -> Screen:
        item = await selected(g)
        if item is None or not can_cancel(item, g):
            return Screen(_("This request can no longer be cancelled here. A person can help."),
                          [Option("person", _("👩‍💼 Talk to a person"))])
        return Screen(_("Cancel this request? {icon} {what}, number {number}.").format(
            icon=item.icon, what=html.escape(item.what), number=item.number), [Option("yes", _("✅ Yes, cancel it"))])

    async def choose(self, g: G, key: str) -> None:
        if key == "person":
            g.go(PERSON)
            return
        if key != "yes":
            return
        item = await selected(g)
        g.forget("r_sel")
        if item is None:
            g.done(REQUESTS)
            return
        try:
            if isinstance(item.obj, Ticket):
                await tickets.cancel_by_resident(g.session, ctx=g.ctx, ticket=item.obj, resident=g.resident)
            else:
                await appointments.cancel_by_resident(g.session, ctx=g.ctx, appt=item.obj, resident=g.resident)
        except tickets.RequestError:
            await g.say(_("Sorry, this request can no longer be cancelled here. A person can help."))
        else:
            await g.say(_("Done. Request {number} is cancelled.").format(number=item.number))
        g.done(REQUESTS)

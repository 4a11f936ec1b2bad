"""Small helpers shared by the guided fault-report and visit flows (issue 8).

Addresses come from the resident's verified accounts, shown as short button labels with the full
address in the message; phones from the contact button or the account on file, read by the form kit's
phone rules (bot/forms/phone.py) like the normal forms. Outage notices are cut to a message an elderly
resident can read without scrolling, and reference numbers are spelt out the way one reads them aloud
on the phone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.phone import PhoneProblem, mask_phone, phone_on_file, read_contact
from bot.forms.safety import gas_warning
from bot.guided.engine import PAGES, G, Page
from bot.guided.ids import PERSON, REQUESTS
from bot.guided.ui import MAX_TEXT, Option, Screen, numbered
from core import tickets
from core.safety import detect_emergency

MAX_LABEL = 12  # characters of a Chinese button label (the walker's bound)


@dataclass(frozen=True)
class Home:
    """One of the resident's addresses: the account behind it, a short label and the full address."""

    account: Any
    label: str
    address: str


def _cut(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def homes(session: AsyncSession, resident_id: int, *, districts: set[str] | None = None,
                utility: str | None = None, limit: int = 4) -> list[Home]:
    """The resident's distinct addresses (verified accounts only), the given utility's first."""
    accounts = await tickets.resident_accounts(session, resident_id)
    accounts.sort(key=lambda a: a.utility.value != utility)
    seen: dict[str, Any] = {}
    for acc in accounts:
        address = tickets.account_address(acc)
        if address in seen or (districts is not None and acc.district not in districts):
            continue
        seen[address] = acc
    chosen = list(seen.items())[:limit]
    short = [f"{a.street}{a.building}号" for _addr, a in chosen]
    out = []
    for (address, acc), label in zip(chosen, short, strict=True):
        if short.count(label) > 1 and acc.room:  # two homes in one building: tell them apart by the room
            label = f"{acc.street}{acc.room}室" if len(label) > 8 else f"{label}{acc.room}室"
        out.append(Home(acc, _cut(label), address))
    return out


def short_outage(outage: Any, locale: str, now: Any) -> str:
    """The outage notice (R9: reason, estimated restoration, apology), cut to a message one can read."""
    text = tickets.outage_message(outage, locale, now=now)
    if len(text) <= MAX_TEXT:
        return text
    lines = text.splitlines()
    keep = [lines[0], *lines[1:-1]]
    while keep and len("\n".join([*keep, lines[-1]])) > MAX_TEXT:
        keep.pop()  # the reason goes last; the title, times and the apology stay
    return "\n".join([*keep, lines[-1]])[:MAX_TEXT]


async def warn_if_emergency(g: G, text: str) -> None:
    """Words typed into a form that report a gas leak get the warning with the emergency line first (R20)."""
    if detect_emergency(text) is not None:
        await g.say(gas_warning(g.ctx, g.locale))


def send_label() -> str:
    """The final "send" button of a guided form (also recognised when it is tapped twice)."""
    return _("✅ Yes, send it")


def read_aloud(number: str) -> str:
    """BX-20261123-0042 -> "B X, 2026 11 23, 0 0 4 2": easy to read out to a person on the phone."""
    parts = number.split("-")
    if len(parts) != 3 or not (parts[1].isdigit() and len(parts[1]) == 8):
        return " ".join(number)
    prefix, day, serial = parts
    return _("{letters}, {year} {month} {day}, {serial}").format(
        letters=" ".join(prefix), year=day[:4], month=day[4:6], day=day[6:], serial=" ".join(serial))


def form_data(g: G, name: str) -> dict[str, Any]:
    """A form being filled in, kept in ``g.data[name]``; its idempotency key is fixed when it starts."""
    data = g.data.setdefault(name, {})
    data.setdefault("key", uuid.uuid4().hex)
    return data


class PhonePage(Page):
    """Which number may we call: the resident's own shared contact, the one already given, or the one on file."""

    form_name: ClassVar[str]
    next_id: ClassVar[str]

    def ask(self, on_file_masked: str | None) -> str:
        raise NotImplementedError

    async def render(self, g: G) -> Screen:
        on_file = await phone_on_file(g.session, g.resident.id)
        options = [Option("share", _("📱 Share my number"), contact=True)]
        given = form_data(g, self.form_name).get("phone")
        if given and given != on_file:
            options.append(Option("keep", _("✅ Keep {phone}").format(phone=mask_phone(given))))
        if on_file:
            options.append(Option("file", _("☎️ Use my number on file")))
        return Screen(self.ask(mask_phone(on_file) if on_file else None), options, paged=False)

    async def choose(self, g: G, key: str) -> None:
        data = form_data(g, self.form_name)
        if key == "keep" and data.get("phone"):
            g.go(self.next_id)
        elif key == "file":
            phone = await phone_on_file(g.session, g.resident.id)
            if phone:
                data["phone"] = phone
                g.go(self.next_id)
        elif key == "share":  # typed the number of the share button: it only works when tapped
            await g.say(_("Please tap the “Share my number” button itself."))

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        reading = read_contact(phone, own)  # the form kit's rule: only the resident's own, readable number
        if reading.problem is PhoneProblem.not_own:
            await g.say(_("That is someone else's number. Please tap the button to share your own number."))
            return
        if reading.phone is None:
            await g.say(_("Sorry, we could not read a phone number from that. Please use the other button, "
                          "or talk to a person."))
            return
        form_data(g, self.form_name)["phone"] = reading.phone
        g.go(self.next_id)


class SentPage(Page):
    """After a form is sent: where to go next. A second tap on "Yes, send it" lands here and is answered with
    the number already given, never filed again."""

    sent_key: ClassVar[str]  # g.data key holding the number of what was just sent

    def already(self, number: str) -> str:
        raise NotImplementedError

    async def render(self, g: G) -> Screen:
        options = [Option(REQUESTS, _("📋 My requests"))] if REQUESTS in PAGES else []
        options.append(Option(PERSON, _("👩‍💼 Talk to a person")))
        return Screen(_("Is there anything else? Tap a button."), options)

    async def choose(self, g: G, key: str) -> None:
        if key in (REQUESTS, PERSON):
            g.go(key)

    async def text(self, g: G, text: str) -> bool:
        number = g.data.get(self.sent_key)
        if number and text.strip() == numbered(1, send_label()):
            await g.say(self.already(number))
            return True
        return False

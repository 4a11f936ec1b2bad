"""Guided mode: reporting a problem by big buttons, the gas leak first (issue 8, R8, R20).

"🔥 I smell gas" is the first button. Pressing it shows the safety steps and the emergency line before
any question, then asks only where (an address of a linked account, or the shared location) and the
resident's own number, and files an emergency ticket. Other problems: utility -> what is wrong -> where
-> phone -> a plain confirmation. An outage in progress at the place is told with its notice and
nothing is filed (unless the resident says it is something else); a problem already reported at the
same place is added to the open ticket (core.tickets). The idempotency key is fixed when the form
starts, so a double tap on "Yes, send it" files one ticket.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.utils.i18n import gettext as _

from bot.forms.phone import mask_phone
from bot.forms.safety import safety_messages
from bot.guided.engine import G, Page, page
from bot.guided.ids import FAULT, PERSON
from bot.guided.ui import MAX_TEXT, Option, Screen
from bot.keyboards.requests import category_label, extent_label
from bot.routers.guided.places import (
    PhonePage,
    SentPage,
    form_data,
    homes,
    read_aloud,
    send_label,
    short_outage,
    warn_if_emergency,
)
from core import responsibility, tickets
from core.tickets import MAX_DESCRIPTION, SUPPLY_CATEGORIES, UTILITY_CATEGORIES, Extent, FaultCategory, esc
from db.enums import Utility

log = logging.getLogger(__name__)

CATEGORY, PLACE, DISTRICT, OUTAGE = "fault.category", "fault.place", "fault.district", "fault.outage"
EXTENT, CONTACT, CONFIRM, SENT = "fault.extent", "fault.contact", "fault.confirm", "fault.sent"
NOT_OURS = "fault.not_ours"  # R8
NOT_SURE = "-"


def utility_label(utility: Utility) -> str:
    return {Utility.gas: _("🔧 Other gas problem"), Utility.water: _("💧 Water problem"),
            Utility.power: _("⚡ Power problem")}[utility]


def category_button(category: FaultCategory) -> str:
    return {
        FaultCategory.gas_leak: _("🔥 I smell gas"),
        FaultCategory.no_gas: _("🚫 No gas"),
        FaultCategory.no_water: _("🚱 No water"),
        FaultCategory.low_pressure: _("🚿 Low water pressure"),
        FaultCategory.water_leak: _("💦 Leak or burst pipe"),
        FaultCategory.meter_fault: _("📟 Meter problem"),
        FaultCategory.power_cut: _("🔌 No power"),
        FaultCategory.other: _("❓ Something else"),
    }[category]


def form(g: G) -> dict[str, Any]:
    return form_data(g, "fault")


def is_leak(data: dict[str, Any]) -> bool:
    return data.get("category") == FaultCategory.gas_leak.value


def place_of(data: dict[str, Any]) -> tickets.Place:
    return tickets.Place(**data.get("place", {}))


def where_text(data: dict[str, Any]) -> str:
    place = data.get("place", {})
    where = place.get("address") or (_("the location you shared") if place.get("latitude") is not None else "")
    if place.get("district") and place["district"] not in where:
        where = f"{place['district']} {where}".strip()
    return where or _("not given")


# --- pages ------------------------------------------------------------------------------------------------


@page
class Start(Page):
    id = FAULT

    async def render(self, g: G) -> Screen:
        return Screen(
            _("🛠 What is the problem? If you smell gas, tap 1 now."),
            [Option(FaultCategory.gas_leak.value, category_button(FaultCategory.gas_leak)),
             *(Option(u.value, utility_label(u)) for u in (Utility.gas, Utility.water, Utility.power))],
            paged=False,
        )

    async def choose(self, g: G, key: str) -> None:
        if key == FaultCategory.gas_leak.value:
            await start_gas_leak(g)
        elif key in {u.value for u in Utility}:
            form(g)["utility"] = key
            g.go(CATEGORY)


async def start_gas_leak(g: G) -> None:
    form(g).update(utility=Utility.gas.value, category=FaultCategory.gas_leak.value)
    for text in safety_messages(g.ctx, g.locale, MAX_TEXT):  # safety first, before any question
        await g.say(text)
    g.go(PLACE)


# A guide's "report a problem" button starts the report that guide is about.
TOPIC_FAULTS: dict[str, tuple[Utility, FaultCategory | None]] = {
    "gas.leak": (Utility.gas, FaultCategory.gas_leak),
    "water.leak-report": (Utility.water, FaultCategory.water_leak),
    "water.quality": (Utility.water, FaultCategory.other),
    "power.fault": (Utility.power, None),
    "gas.ic-card-purchase": (Utility.gas, FaultCategory.meter_fault),
    "gas.appliance-repair": (Utility.gas, None),
    "water.meter-check": (Utility.water, FaultCategory.meter_fault),
}


async def start_from_topic(g: G, slug: str) -> None:
    """Open the report a guide leads to: straight to the question that is still open."""
    utility, category = TOPIC_FAULTS.get(slug, (None, None))
    if category is FaultCategory.gas_leak:
        await start_gas_leak(g)
    elif utility is None:
        g.go(FAULT)
    elif category is None:
        form(g)["utility"] = utility.value
        g.go(CATEGORY)
    else:
        form(g).update(utility=utility.value, category=category.value)
        g.go(PLACE)


@page
class Category(Page):
    id = CATEGORY

    def _categories(self, g: G) -> list[FaultCategory]:
        utility = Utility(form(g).get("utility") or Utility.water.value)
        return [c for c in UTILITY_CATEGORIES[utility] if c is not FaultCategory.gas_leak]

    async def render(self, g: G) -> Screen:
        options = [Option(c.value, category_button(c)) for c in self._categories(g)]
        utility = form(g).get("utility") or Utility.water.value
        options.append(Option(NOT_OURS, _(responsibility.BUTTONS[responsibility.boundary_for(utility)])))
        chosen = form(g).get("category")
        text = _("What is wrong? Tap one.")
        if chosen and chosen != FaultCategory.gas_leak.value and chosen in {o.key for o in options}:
            text = _("You chose: {category}. Tap it again, or choose another.").format(
                category=category_label(chosen))
        return Screen(text, options)

    async def choose(self, g: G, key: str) -> None:
        if key in {c.value for c in self._categories(g)}:
            form(g)["category"] = key
            g.go(PLACE)
        elif key == NOT_OURS:
            g.go(NOT_OURS)


@page
class NotOurs(Page):
    """R8: not the utility's responsibility: whose it is and where to turn; it can still be reported."""

    id = NOT_OURS

    async def render(self, g: G) -> Screen:
        boundary = responsibility.boundary_for(form(g).get("utility") or Utility.water.value)
        return Screen(_(responsibility.EXPLANATIONS[boundary]),
                      [Option("report", _(responsibility.REPORT_ANYWAY)), Option(PERSON, _("👩‍💼 Talk to a person"))],
                      paged=False)

    async def choose(self, g: G, key: str) -> None:
        if key == "report":
            form(g)["category"] = FaultCategory.other.value
            g.go(PLACE)
        elif key == PERSON:
            g.go(PERSON)


@page
class Where(Page):
    id = PLACE

    async def render(self, g: G) -> Screen:
        data = form(g)
        places = await homes(g.session, g.resident.id, utility=data.get("utility"))
        options = [Option(f"acc:{h.account.id}", f"🏡 {h.label}") for h in places]
        options.append(Option("location", _("📍 Share my location"), location=True))
        options.append(Option("other", _("🗺 Another place")))
        text = _("When you are safe: where is the gas leak?") if is_leak(data) else _("Where is the problem?")
        if places:
            text += "\n" + "\n".join(f"🏡 {esc(h.address)}" for h in places)
        else:
            text += " " + _("Tap “📍 Share my location”. If you are not there, tap “🗺 Another place”.")
        return Screen(text, options)  # more than two addresses: "More" shows the rest

    async def choose(self, g: G, key: str) -> None:
        data = form(g)
        if key == "other":
            data.pop("place", None)
            g.go(DISTRICT)
            return
        if key == "location":  # typed the number of the location button: it only works when tapped
            await g.say(_("Please tap the “Share my location” button itself."))
            return
        if not key.startswith("acc:"):
            return
        acc = next((h.account for h in await homes(g.session, g.resident.id, utility=data.get("utility"))
                    if str(h.account.id) == key[4:]), None)
        if acc is None:  # no longer one of this resident's verified accounts
            await g.say(_("Sorry, that address is no longer linked to you. Please choose again."))
            return
        data["place"] = tickets.Place(account_id=acc.id, address=tickets.account_address(acc), district=acc.district,
                                      street=acc.street, building=acc.building).as_fields()
        await place_known(g)

    async def location(self, g: G, key: str, latitude: float, longitude: float) -> None:
        data = form(g)
        data["place"] = {"latitude": latitude, "longitude": longitude}
        await g.say(_("📍 Thank you, we have your location."))
        if is_leak(data):
            await place_known(g)  # an emergency: the crew finds the place; no more questions than needed
        else:
            g.go(DISTRICT)


@page
class District(Page):
    id = DISTRICT

    async def render(self, g: G) -> Screen:
        districts = await tickets.service_districts(g.session)
        options = [Option(d, f"🏙 {d}") for d in districts]
        options.append(Option(NOT_SURE, _("🤷 Not sure")))
        return Screen(_("Which district is it in?"), options)

    async def choose(self, g: G, key: str) -> None:
        data = form(g)
        districts = await tickets.service_districts(g.session)
        if key != NOT_SURE and key not in districts:
            return
        place = dict(data.get("place") or {})
        place.pop("district", None)
        if key != NOT_SURE:
            place["district"] = key
        data["place"] = place
        await place_known(g)


async def place_known(g: G) -> None:
    """R8: a supply problem an outage in progress explains is told, not filed; otherwise ask the phone."""
    data = form(g)
    if not data.get("category"):  # the form was reset meanwhile (another device): start it again
        g.home()
        g.go(FAULT)
        return
    data.pop("outage_seen", None)
    place = place_of(data)
    category = FaultCategory(data["category"])
    if category in SUPPLY_CATEGORIES and place.district:
        now = g.ctx.clock.now()
        outages = await tickets.known_outages(g.session, now=now, utility=Utility(data["utility"]),
                                              district=place.district, street=place.street, building=place.building)
        if outages:
            for outage in outages[:2]:
                await g.say(short_outage(outage, g.locale, now))
            g.go(OUTAGE)
            return
    g.go(CONTACT if is_leak(data) else EXTENT)  # a gas leak: only what the crew needs


@page
class Outage(Page):
    id = OUTAGE

    async def render(self, g: G) -> Screen:
        return Screen(
            _("This is a known outage. Our crews are already on it, so you do not need to report it. "
              "Is your problem something else?"),
            [Option("stop", _("👍 That explains it")), Option("go", _("🛠 No, it is different"))],
        )

    async def choose(self, g: G, key: str) -> None:
        if key == "stop":
            g.forget("fault")
            await g.say(_("Thank you. Nothing was filed. Supply should be back by the time above. We are sorry "
                          "for the trouble."))
            g.home()
        elif key == "go":
            form(g)["outage_seen"] = True
            g.go(EXTENT)


def extent_button(extent: Extent) -> str:
    return {
        Extent.home: _("🚪 Only my home"),
        Extent.building: _("🏢 The whole building"),
        Extent.area: _("🏘 Street or whole area"),
        Extent.unknown: _("🤷 Not sure"),
    }[extent]


@page
class Reach(Page):
    """R8: the extent of the problem, by buttons."""

    id = EXTENT

    async def render(self, g: G) -> Screen:
        chosen = form(g).get("extent")
        text = _("Is it only your home, or more? Tap one.")
        if chosen:
            text = _("You chose: {extent}. Tap it again, or choose another.").format(extent=extent_label(chosen))
        return Screen(text, [Option(e.value, extent_button(e)) for e in Extent])

    async def choose(self, g: G, key: str) -> None:
        if key in {e.value for e in Extent}:
            form(g)["extent"] = key
            g.go(CONTACT)


@page
class Contact(PhonePage):
    id = CONTACT
    form_name, next_id = "fault", CONFIRM

    def ask(self, on_file_masked: str | None) -> str:
        if on_file_masked:
            return _("📞 Which number can the crew call? Tap “Share my number”, or use {phone} from your "
                     "account.").format(phone=on_file_masked)
        return _("📞 Which number can the crew call? Tap “Share my number”.")


@page
class Confirm(Page):
    id = CONFIRM

    async def render(self, g: G) -> Screen:
        data = form(g)
        if not data.get("category") or not data.get("phone"):
            return Screen(_("Sorry, something is missing. Please tap Back."))
        lines = [
            _("Please check:"),
            _("Problem: {category}").format(category=category_label(data["category"])),
            _("Place: {place}").format(place=esc(where_text(data))),
            *([_("Extent: {extent}").format(extent=extent_label(data["extent"]))]
              if data.get("extent") and not is_leak(data) else []),
            _("We call you on: {phone}").format(phone=mask_phone(data["phone"])),
        ]
        if data.get("description"):
            words = data["description"]
            lines.append(_("Your words: {words}").format(words=esc(words if len(words) <= 60 else words[:59] + "…")))
        duplicate = await tickets.find_open_duplicate(g.session, resident_id=g.resident.id,
                                                      category=data["category"], place=place_of(data))
        if duplicate is not None:
            lines.append(_("You already reported this here ({number}). We will add this to it.").format(
                number=duplicate.number))
        lines.append(_("Is this right? Then tap “Yes, send it”."))
        if not data.get("description") and not is_leak(data):
            lines.append(_("If you like, type a few words about it first (not needed)."))
        return Screen("\n".join(lines), [Option("send", send_label())], paged=False)

    async def choose(self, g: G, key: str) -> None:
        if key == "send":
            await submit(g)

    async def text(self, g: G, text: str) -> bool:
        """Optional words about the problem (never required): kept with the report."""
        data = form(g)
        text = " ".join(text.split())
        if not text or not data.get("category"):
            return False
        await warn_if_emergency(g, text)
        words = "\n".join(w for w in (data.get("description", ""), text) if w)
        if len(words) > MAX_DESCRIPTION:
            await g.say(_("That is too long. Please keep it shorter."))
            return True
        data["description"] = words
        await g.say(_("Thank you, I added your words."))
        return True


async def submit(g: G) -> None:
    data = form(g)
    if not data.get("category") or not data.get("phone"):
        return
    try:
        outcome = await tickets.file_fault_report(
            g.session, ctx=g.ctx, resident=g.resident, utility=data["utility"], category=data["category"],
            place=place_of(data), extent=None if is_leak(data) else data.get("extent"),
            description=data.get("description", ""),
            contact_name=(g.resident.first_name or "")[:128] or None, contact_phone=data["phone"],
            idempotency_key=f"gf-{data['key']}",
        )
    except tickets.InvalidInput:
        log.warning("guided fault report refused", exc_info=True)
        await g.say(_("Sorry, something in the report is not valid. A colleague can help you."))
        g.forget("fault")
        g.done(PERSON)
        return
    g.forget("fault")
    g.data["fault_sent"] = outcome.ticket.number
    await g.say(result_text(g, outcome, data))
    g.done(SENT)


def result_text(g: G, outcome: tickets.FaultOutcome, data: dict[str, Any]) -> str:
    ticket = outcome.ticket
    deadline = tickets.format_deadline(ticket.deadline_at, g.locale)
    number = _("Number: <b>{number}</b>\n(say: {spoken})").format(number=ticket.number,
                                                                  spoken=read_aloud(ticket.number))
    if outcome.linked:
        return "\n".join([
            _("You already reported this problem here. We added your new report to it."), number,
            _("We will deal with it by {deadline}.").format(deadline=deadline)])
    if ticket.category == FaultCategory.gas_leak:
        return "\n".join([
            _("🚨 The repair crew is sent first, as an emergency."), number,
            _("They will call you on {phone}. Stay outside and keep away from the gas.").format(
                phone=mask_phone(data.get("phone"))),
            _("Repair by {deadline} at the latest. You get a message here at every step.").format(
                deadline=deadline)])
    return "\n".join([
        _("✅ Your report is registered."), number,
        _("We will deal with it by {deadline}.").format(deadline=deadline),
        _("Next: the repair team calls you on {phone}. You get a message here at every step.").format(
            phone=mask_phone(data.get("phone")))])


@page
class Sent(SentPage):
    id = SENT
    sent_key = "fault_sent"

    def already(self, number: str) -> str:
        return _("Already submitted as {number}.").format(number=number)

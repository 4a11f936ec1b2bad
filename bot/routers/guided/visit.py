"""Guided mode: booking a home visit by big buttons (issue 8, R2).

Service -> (ignition: the R19 prerequisites, each confirmed) -> address (from the resident's linked
accounts) -> day ("tomorrow" / "the day after" when they are bookable, or "choose a day" among the bookable
working days with a free place in the next 14) -> a time window with a free place -> phone (the share button
or the number on file) -> a plain confirmation -> the request registered with its number; staff confirm it
within 1 working day.
The idempotency key is fixed when the form starts, so a double tap books one visit.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from bot.forms.phone import mask_phone
from bot.guided.engine import PAGES, G, Page, page
from bot.guided.ids import BALANCE, GUIDE_TOPIC, PERSON, VISIT
from bot.guided.ui import MORE, Option, Screen
from bot.routers.guided.places import PhonePage, SentPage, form_data, homes, read_aloud, send_label
from core import appointments, ignition, slots, tickets
from core.appointments import SERVICE_LABELS, format_day
from core.clock import local
from core.tickets import esc
from db.enums import ServiceType

log = logging.getLogger(__name__)

ADDRESS, DAY, DAYS, WINDOW = "visit.address", "visit.day", "visit.days", "visit.window"
PHONE, CONFIRM, SENT = "visit.phone", "visit.confirm", "visit.sent"
READY = "visit.ready"  # R19: ignition prerequisites

# A guide's "book a visit" button offers the service of that guide first.
TOPIC_SERVICES = {
    "gas.ignition": ServiceType.ignition,
    "gas.safety-inspection": ServiceType.safety_inspection,
    "water.meter-check": ServiceType.meter_check,
    "gas.appliance-repair": ServiceType.appliance_repair,
    "gas.modification": ServiceType.modification_survey,
    "general.proxy": ServiceType.home_visit,
}


def service_button(service: ServiceType) -> str:
    return {
        ServiceType.ignition: _("🔥 Gas ignition"),
        ServiceType.safety_inspection: _("🛡 Gas safety check"),
        ServiceType.meter_check: _("📟 Meter check"),
        ServiceType.appliance_repair: _("🔧 Appliance repair"),
        ServiceType.modification_survey: _("📐 Pipe survey"),
        ServiceType.home_visit: _("🧓 Visit for elderly or disabled"),
    }[service]


def service_name(service: str) -> str:
    return _(SERVICE_LABELS[ServiceType(service)])


def short_day(day: date, locale: str) -> str:
    return format_skeleton("MMMEd", day, locale="en" if locale == "en" else "zh_Hans")


def window_label(window: str, locale: str) -> str:
    start, end = int(window[:2]), int(window[3:5])
    if locale == "en":
        part = _("Morning") if start < 12 else _("Afternoon") if start < 18 else _("Evening")
        return f"🕘 {part} {appointments.format_window(window)}"
    part = "上午" if start < 12 else "下午" if start < 18 else "晚上"
    twelve = (lambda h: h if h <= 12 else h - 12) if start >= 12 else (lambda h: h)
    return f"🕘 {part}{twelve(start)}点到{twelve(end)}点"


def form(g: G) -> dict[str, Any]:
    return form_data(g, "visit")


async def free_days(g: G, district: str) -> list[date]:
    days = await slots.available_days(g.session, ctx=g.ctx, district=district, now=g.ctx.clock.now())
    return [d.day for d in days]


def back_to(g: G, page_id: str) -> None:
    """Go back down the stack to ``page_id`` (kept answers are shown again there)."""
    while len(g.stack) > 1 and g.top["id"] != page_id:
        g.back()


# --- pages ------------------------------------------------------------------------------------------------


@page
class Service(Page):
    id = VISIT

    def _services(self, g: G) -> list[ServiceType]:
        services = list(ServiceType)
        came_from_guide = len(g.stack) >= 2 and g.stack[-2]["id"] == GUIDE_TOPIC
        slug = (g.stack[-2].get("slug") or g.data.get("topic")) if came_from_guide else None
        first = TOPIC_SERVICES.get(slug) if slug else None
        if first is not None:
            services.remove(first)
            services.insert(0, first)
        return services

    async def render(self, g: G) -> Screen:
        chosen = form(g).get("service")
        text = _("📅 Home visit. What do you need? Tap one.")
        if chosen:
            text = _("You chose: {service}. Tap it again, or choose another.").format(service=service_name(chosen))
        return Screen(text, [Option(s.value, service_button(s)) for s in self._services(g)])

    async def choose(self, g: G, key: str) -> None:
        if key in {s.value for s in ServiceType}:
            data = form(g)
            if data.get("service") != key:
                data.pop("prerequisites", None)
            data["service"] = key
            g.go(READY if ignition.needs_prerequisites(key) else ADDRESS)


@page
class Ready(Page):
    """R19: before an ignition is booked, each prerequisite is confirmed; a "no" is told why and ends the form."""

    id = READY

    async def render(self, g: G) -> Screen:
        missing = ignition.failed(form(g).get("prerequisites"))
        if not missing:
            return Screen(_("Thank you: everything is ready for the ignition."),
                          [Option("go", _("➡️ Continue"))], paged=False)
        item = missing[0]
        text = _("🔥 For your safety we turn on the gas only when everything is ready. "
                 "Please confirm ({n}/{total}):\n{question}").format(
            n=ignition.ITEMS.index(item) + 1, total=len(ignition.ITEMS), question=_(ignition.QUESTIONS[item]))
        return Screen(text, [Option("yes", _("✅ Yes, ready")), Option("no", _("❌ No, not yet"))], paged=False)

    async def choose(self, g: G, key: str) -> None:
        data = form(g)
        missing = ignition.failed(data.get("prerequisites"))
        if not missing or key == "go":
            if not missing:
                g.go(ADDRESS)
            return
        if key == "yes":
            data.setdefault("prerequisites", {})[missing[0].value] = True
        elif key == "no":
            await g.say(_(ignition.BLOCKED).format(reason=_(ignition.REASONS[missing[0]])))
            g.forget("visit")
            g.home()


@page
class Address(Page):
    id = ADDRESS

    async def render(self, g: G) -> Screen:
        served = set(await slots.districts(g.session))
        places = await homes(g.session, g.resident.id, districts=served)
        if places:
            lines = [_("🏠 Where should we come? Tap your address.")]
            lines += [f"🏡 {esc(h.address)}" for h in places]
            return Screen("\n".join(lines), [Option(f"acc:{h.account.id}", f"🏡 {h.label}") for h in places])
        options = []
        if await tickets.resident_accounts(g.session, g.resident.id):
            text = _("Sorry, we do not make home visits at your address yet. A colleague can help you.")
        else:
            text = _("We take the address from your account. Please link your account first, or talk to a "
                     "person.")
            if BALANCE in PAGES:
                options.append(Option(BALANCE, _("🔗 Link my account")))
        options.append(Option(PERSON, _("👩‍💼 Talk to a person")))
        return Screen(text, options)

    async def choose(self, g: G, key: str) -> None:
        if key in (BALANCE, PERSON):
            g.go(key)
            return
        if not key.startswith("acc:"):
            return
        served = set(await slots.districts(g.session))
        home = next((h for h in await homes(g.session, g.resident.id, districts=served)
                     if str(h.account.id) == key[4:]), None)
        if home is None:
            await g.say(_("Sorry, that address is no longer linked to you. Please choose again."))
            return
        data = form(g)
        if data.get("district") != home.account.district:
            data.pop("day", None)  # another district has other free places
            data.pop("window", None)
        data.update(account_id=home.account.id, address=home.address, district=home.account.district)
        g.go(DAY)


@page
class Day(Page):
    id = DAY

    async def render(self, g: G) -> Screen:
        data = form(g)
        if not data.get("district"):
            return Screen(_("Sorry, something is missing. Please tap Back."))
        days = await free_days(g, data["district"])
        if not days:
            return Screen(_("Sorry, there is no free visit time in the next 14 working days. A colleague can "
                            "help you."), [Option(PERSON, _("👩‍💼 Talk to a person"))])
        today = local(g.ctx.clock.now()).date()
        tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
        options = []
        if tomorrow in days:
            options.append(Option(tomorrow.isoformat(), _("📅 Tomorrow, {day}").format(
                day=short_day(tomorrow, g.locale))))
        if after in days:
            options.append(Option(after.isoformat(), _("📅 The day after, {day}").format(
                day=short_day(after, g.locale))))
        if not options:  # neither is bookable: offer the first free day
            options.append(Option(days[0].isoformat(), f"📅 {short_day(days[0], g.locale)}"))
        options.append(Option("pick", _("🗓 Choose a day")))
        text = _("📆 Which day should we come?")
        if data.get("day"):
            text = _("You chose {day}. Tap a day.").format(day=format_day(date.fromisoformat(data["day"]), g.locale))
        return Screen(text, options, paged=False)

    async def choose(self, g: G, key: str) -> None:
        if key == PERSON:
            g.go(PERSON)
        elif key == "pick":
            g.go(DAYS)
        else:
            await pick_day(g, key)


async def pick_day(g: G, key: str) -> None:
    data = form(g)
    if not data.get("district"):
        return
    try:
        day = date.fromisoformat(key)
    except ValueError:
        return
    if day not in await free_days(g, data["district"]):
        await g.say(_("Sorry, that day is full now. Please choose another."))
        return
    if data.get("day") != day.isoformat():
        data.pop("window", None)
    data["day"] = day.isoformat()
    g.go(WINDOW)


@page
class Days(Page):
    id = DAYS

    async def render(self, g: G) -> Screen:
        district = form(g).get("district")
        days = await free_days(g, district) if district else []
        if not days:
            return Screen(_("Sorry, there is no free visit time in the next 14 working days. Please tap Back."))
        return Screen(_("📆 Days with a free place. Tap one. “{more}” shows later days.").format(more=MORE),
                      [Option(d.isoformat(), f"📅 {short_day(d, g.locale)}") for d in days])

    async def choose(self, g: G, key: str) -> None:
        await pick_day(g, key)


@page
class Window(Page):
    id = WINDOW

    async def render(self, g: G) -> Screen:
        data = form(g)
        if not data.get("day") or not data.get("district"):
            return Screen(_("Sorry, something is missing. Please tap Back."))
        day = date.fromisoformat(data["day"])
        free = await slots.free_windows(g.session, district=data["district"], day=day)
        if not free:
            return Screen(_("Sorry, that day is full now. Please tap Back and choose another day."))
        text = _("{day}: what time suits you?").format(day=format_day(day, g.locale))
        return Screen(text, [Option(w.window, window_label(w.window, g.locale)) for w in free])

    async def choose(self, g: G, key: str) -> None:
        data = form(g)
        if not data.get("day") or not data.get("district"):
            return
        day = date.fromisoformat(data["day"])
        if key not in {w.window for w in await slots.free_windows(g.session, district=data["district"], day=day)}:
            await g.say(_("Sorry, that time has just been taken. Please choose another."))
            return
        data["window"] = key
        g.go(PHONE)


@page
class Phone(PhonePage):
    id = PHONE
    form_name, next_id = "visit", CONFIRM

    def ask(self, on_file_masked: str | None) -> str:
        if on_file_masked:
            return _("📞 Which number should we call about the visit? Tap “Share my number”, or use {phone} "
                     "from your account.").format(phone=on_file_masked)
        return _("📞 Which number should we call about the visit? Tap “Share my number”.")


@page
class Confirm(Page):
    id = CONFIRM

    async def render(self, g: G) -> Screen:
        data = form(g)
        if not all(data.get(k) for k in ("service", "address", "day", "window", "phone")):
            return Screen(_("Sorry, something is missing. Please tap Back."))
        day = date.fromisoformat(data["day"])
        lines = [
            _("Please check:"),
            _("Service: {service}").format(service=service_name(data["service"])),
            _("Address: {address}").format(address=esc(data["address"])),
            _("Day: {day}").format(day=format_day(day, g.locale)),
            _("Time: {window}").format(window=appointments.format_window(data["window"])),
            _("We call you on: {phone}").format(phone=mask_phone(data["phone"])),
            _("Is this right? Then tap “Yes, send it”."),
        ]
        return Screen("\n".join(lines), [Option("send", send_label())], paged=False)

    async def choose(self, g: G, key: str) -> None:
        if key == "send":
            await submit(g)


async def submit(g: G) -> None:
    data = form(g)
    if not all(data.get(k) for k in ("service", "address", "day", "window", "phone")):
        return
    try:
        appt = await appointments.request_appointment(
            g.session, ctx=g.ctx, resident=g.resident, service=data["service"], district=data["district"],
            address=data["address"], day=date.fromisoformat(data["day"]), window=data["window"],
            contact_phone=data["phone"], account_id=data.get("account_id"), idempotency_key=f"gv-{data['key']}",
            prerequisites=data.get("prerequisites"),
        )
    except appointments.SlotUnavailable:
        # Taken by someone else meanwhile: everything else is kept; choose the day again.
        data.pop("day", None)
        data.pop("window", None)
        await g.say(_("Sorry, that time was taken just now. Your other answers are kept. Please choose the day "
                      "again."))
        back_to(g, DAY)
        return
    except tickets.InvalidInput:
        log.warning("guided visit request refused", exc_info=True)
        await g.say(_("Sorry, something in the request is not valid. A colleague can help you."))
        g.forget("visit")
        g.done(PERSON)
        return
    g.forget("visit")
    g.data["visit_sent"] = appt.number
    await g.say(booked_text(g, appt))
    g.done(SENT)


def booked_text(g: G, appt: Any) -> str:
    return "\n".join([
        _("📅 Your visit request is registered."),
        _("Number: <b>{number}</b>\n(say: {spoken})").format(number=appt.number, spoken=read_aloud(appt.number)),
        _("{service}, {day}, {window}.").format(service=service_name(appt.service),
                                                day=format_day(appt.day, g.locale),
                                                window=appointments.format_window(appt.window)),
        _("We will confirm it within 1 working day, by {respond_by}.").format(
            respond_by=tickets.format_deadline(appt.respond_by, g.locale)),
    ])


@page
class Sent(SentPage):
    id = SENT
    sent_key = "visit_sent"

    def already(self, number: str) -> str:
        return _("Already sent as {number}.").format(number=number)

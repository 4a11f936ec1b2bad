"""Tickets: fault reports (R7, R8, R20), complaints (R3, R5), call-backs (R10) and R4 follow-up tasks.

Every change is one service call that commits the ticket, its history event and the notice to the
resident (outbox, in the resident's language) in a single transaction. Staff functions take the
acting ``StaffUser``; integrations act through their token's service identity (a real staff row).
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from babel.dates import format_skeleton
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import audit, language_guard, outbox
from core.clock import local
from core.numbers import next_number
from core.staff import has_role, may_act_on
from db.enums import (
    OPEN_TICKET_STATUSES,
    AppointmentStatus,
    Priority,
    StaffRole,
    TicketKind,
    TicketStatus,
    Utility,
)
from db.models import Appointment, QuestionLog, Resident, StaffUser, Ticket, TicketEvent

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated later in the resident's language."""
    return message


# --- vocabulary ---------------------------------------------------------------------------------------------

PREFIXES = {
    TicketKind.fault: "BX",  # 报修
    TicketKind.complaint: "TS",  # 投诉
    TicketKind.callback: "HD",  # 回电
    TicketKind.followup: "HF",  # 回访
    TicketKind.inquiry: "ZX",  # 咨询
}

MAX_DESCRIPTION = 2000  # what a resident may type in one description; the bot says so
MAX_STAFF_TEXT = 4000  # notes and replies from the console
MAX_ATTACHMENTS = 5


class FaultCategory(StrEnum):
    gas_leak = "gas_leak"
    no_gas = "no_gas"
    no_water = "no_water"
    low_pressure = "low_pressure"
    water_leak = "water_leak"  # leak or burst pipe
    meter_fault = "meter_fault"
    power_cut = "power_cut"
    other = "other"


UTILITY_CATEGORIES: dict[Utility, tuple[FaultCategory, ...]] = {
    Utility.gas: (FaultCategory.gas_leak, FaultCategory.no_gas, FaultCategory.meter_fault, FaultCategory.other),
    Utility.water: (FaultCategory.no_water, FaultCategory.low_pressure, FaultCategory.water_leak,
                    FaultCategory.meter_fault, FaultCategory.other),
    Utility.power: (FaultCategory.power_cut, FaultCategory.meter_fault, FaultCategory.other),
}

# Categories an outage in progress explains (R8: "a fault already known"). A gas leak never is.
SUPPLY_CATEGORIES = frozenset({FaultCategory.no_gas, FaultCategory.no_water, FaultCategory.low_pressure,
                               FaultCategory.power_cut})

# Staff-facing subjects (the console is bilingual); residents see gettext labels in the bot.
CATEGORY_SUBJECTS = {
    FaultCategory.gas_leak: "燃气泄漏 Gas leak",
    FaultCategory.no_gas: "停气/无气 No gas",
    FaultCategory.no_water: "停水/无水 No water",
    FaultCategory.low_pressure: "水压低 Low water pressure",
    FaultCategory.water_leak: "漏水/爆管 Water leak or burst pipe",
    FaultCategory.meter_fault: "表具故障 Meter fault",
    FaultCategory.power_cut: "停电 Power cut",
    FaultCategory.other: "其他故障 Other fault",
}


class Extent(StrEnum):
    """R8: the extent of the outage."""

    home = "home"
    building = "building"
    area = "area"
    unknown = "unknown"


# Allowed status moves; anything else is refused with TransitionError.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.new: frozenset({TicketStatus.accepted, TicketStatus.in_progress, TicketStatus.resolved,
                                 TicketStatus.cancelled, TicketStatus.duplicate}),
    TicketStatus.accepted: frozenset({TicketStatus.in_progress, TicketStatus.resolved, TicketStatus.cancelled,
                                      TicketStatus.duplicate}),
    TicketStatus.in_progress: frozenset({TicketStatus.resolved, TicketStatus.cancelled, TicketStatus.duplicate}),
    TicketStatus.resolved: frozenset({TicketStatus.closed, TicketStatus.in_progress}),  # in_progress = reopen
    TicketStatus.closed: frozenset(),
    TicketStatus.cancelled: frozenset(),
    TicketStatus.duplicate: frozenset(),
}
# Transitions that need a written note: the resolution is the R3 written reply; a cancellation says why.
NOTE_REQUIRED = frozenset({TicketStatus.resolved, TicketStatus.cancelled})

TICKET_FIELDS = frozenset({
    "account_id", "address", "district", "street", "building", "latitude", "longitude", "extent",
    "contact_name", "contact_phone", "attachments", "language", "owner_id", "duplicate_of_id", "outage_id",
    "complaint_level", "complaint_class",
})


# --- errors -------------------------------------------------------------------------------------------------


class RequestError(Exception):
    """A request the rules do not allow; the message is safe to show to staff."""

    status_code = 409


class TransitionError(RequestError):
    pass


class NotAllowed(RequestError):
    status_code = 403


class InvalidInput(RequestError):
    status_code = 422


class ImpoliteText(InvalidInput):
    """R14: a text for the resident contains a forbidden phrase (the message names it and suggests a rewording)."""


def require_polite(text: str | None, *, what: str) -> None:
    """R14: every text staff send to a resident passes the language guard, whatever the surface."""
    try:
        language_guard.require_polite(text, what=what)
    except language_guard.ForbiddenPhrase as e:
        raise ImpoliteText(str(e)) from None


# --- small helpers ------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def clean_phone(text: str | None) -> str | None:
    """A mainland mobile (1[3-9] + 9 digits) or a landline (0area-number); None if it is neither."""
    if not text:
        return None
    table = str.maketrans("０１２３４５６７８９－＋", "0123456789-+")
    raw = re.sub(r"[\s()（）]", "", text.translate(table))
    if raw.startswith("+86"):
        raw = raw[3:]
    elif raw.startswith("0086"):
        raw = raw[4:]
    elif raw.startswith("86") and len(raw) == 13:
        raw = raw[2:]
    raw = raw.lstrip("-")
    digits = raw.replace("-", "")
    if _MOBILE.match(digits):
        return digits
    if raw.count("-") <= 1 and _LANDLINE.match(raw):
        if "-" in raw:
            return raw
        return digits
    return None


def normalize_address(text: str | None) -> str:
    """Comparable form of an address: no spaces or punctuation, half-width, lower case."""
    if not text:
        return ""
    table = str.maketrans("０１２３４５６７８９", "0123456789")
    return re.sub(r"[\s,，.。、#＃\-–—_/()（）]", "", text.translate(table)).lower()


def esc(text: str | None) -> str:
    """Escape resident or staff text for Telegram HTML messages."""
    return html.escape(text or "", quote=False)


def format_deadline(dt: datetime, lang: str | None, *, with_time: bool | None = None) -> str:
    """A deadline as the resident reads it: the date (and the time when it is not end of day)."""
    loc = local(dt)
    locale = "en" if lang == "en" else "zh_Hans"
    text = format_skeleton("yMMMEd", loc.date(), locale=locale)
    if with_time is None:
        with_time = (loc.hour, loc.minute) != (23, 59)
    return f"{text} {loc:%H:%M}" if with_time else text


def _lang(resident: Resident | None, fallback: str | None = None) -> str:
    lang = (resident.language if resident is not None else None) or fallback
    return "en" if lang == "en" else "zh_Hans"


def deadline_for(ctx: Any, kind: TicketKind, priority: Priority, now: datetime) -> datetime:
    """The promised completion time of a new ticket, from the working-day calendar."""
    if kind is TicketKind.callback:
        return now + timedelta(hours=24)  # R10: call back within 24 hours (clock hours)
    if kind is TicketKind.fault and priority is Priority.emergency:
        return ctx.calendar.deadline(now, 1)  # R7: emergency repair orders within 1 working day
    if kind is TicketKind.followup:
        return ctx.calendar.deadline(now, 1)  # R7: the customer is called back within the first working day
    return ctx.calendar.deadline(now, 3)  # R3 / R7: 3 working days


async def _rollback_keeping(session: AsyncSession, *objects: Any) -> None:
    """Roll back, then reload the caller's objects (a rollback expires them, and async code cannot lazy-load).

    Only the instance state is inspected: reading an attribute of an expired object here would try a
    synchronous lazy load (MissingGreenlet). Objects of another session, or transient ones such as the
    synthetic staff member of an API token, are left alone.
    """
    await session.rollback()
    for obj in objects:
        state = sa_inspect(obj, raiseerr=False) if obj is not None else None
        if state is None or not state.persistent or state.session is not session.sync_session:
            continue
        await session.refresh(obj)


async def _publish(ctx: Any, topic: str, **data: Any) -> None:
    """Console live update after the commit (best effort: the pages also refresh on load)."""
    try:
        await ctx.live.publish(topic, **data)
    except Exception:  # pragma: no cover - LiveHub already swallows transport errors
        log.warning("live publish failed for %s", topic, exc_info=True)


def _staff_id(staff: StaffUser | None) -> int | None:
    return None if staff is None else staff.id


def _is_supervisor(staff: StaffUser | None) -> bool:
    return staff is not None and has_role(staff.role, StaffRole.supervisor)


# --- contracts with other features (guarded until they are merged) ------------------------------------------


async def resident_accounts(session: AsyncSession, resident_id: int) -> list[Any]:
    """The resident's verified accounts (core.accounts, issue 3); only those may lend an address."""
    try:
        from core.accounts import linked_accounts
    except ImportError:  # accounts feature not merged: read the verified links directly
        from db.models import AccountLink, UtilityAccount

        rows = await session.execute(
            select(UtilityAccount).join(AccountLink, AccountLink.account_id == UtilityAccount.id)
            .where(AccountLink.resident_id == resident_id).order_by(UtilityAccount.id)
        )
        return list(rows.scalars())
    return list(await linked_accounts(session, resident_id))


async def known_outages(
    session: AsyncSession, *, now: datetime, utility: Utility | None, district: str | None,
    street: str | None = None, building: str | None = None,
) -> list[Any]:
    """Outage notices in progress at a place (core.outages, issue 7); [] until that feature exists."""
    if not district:
        return []
    try:
        from core.outages import active_outages_at
    except ImportError:
        return []
    return list(await active_outages_at(session, now=now, district=district, street=street, building=building,
                                        utility=utility))


def outage_message(outage: Any, lang: str | None, *, now: datetime | None = None) -> str:
    """R9: reason, estimated restoration and an apology, from core.outages."""
    from core.outages import outage_text

    return outage_text(outage, "en" if lang == "en" else "zh_Hans", now=now)


_DISTRICTS_TTL = 60.0  # seconds; districts change with a new estate, not from one minute to the next
_districts_cache: dict[str, tuple[float, list[str]]] = {}


async def service_districts(session: AsyncSession) -> list[str]:
    """Districts we serve (where accounts or visit capacity exist), for residents to pick from."""
    from db.models import SlotCapacity, UtilityAccount

    key = str(session.bind.url)
    hit = _districts_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return list(hit[1])
    accounts = await session.execute(select(UtilityAccount.district).distinct())
    slots = await session.execute(select(SlotCapacity.district).distinct())
    districts = sorted(set(accounts.scalars()) | set(slots.scalars()))
    _districts_cache[key] = (time.monotonic() + _DISTRICTS_TTL, districts)
    return list(districts)


def forget_districts() -> None:
    """Drop the cached district lists (after staff change the visit capacity)."""
    _districts_cache.clear()


def account_address(account: Any) -> str:
    parts = [account.district, account.street, f"{account.building}号"]
    if account.unit:
        parts.append(f"{account.unit}单元")
    if account.room:
        parts.append(f"{account.room}室")
    return "".join(parts)


# --- creating -----------------------------------------------------------------------------------------------


async def ticket_by_key(session: AsyncSession, key: str) -> Ticket | None:
    return (await session.execute(select(Ticket).where(Ticket.idempotency_key == key))).scalar_one_or_none()


async def create_ticket(
    session: AsyncSession,
    *,
    ctx: Any,
    kind: TicketKind | str,
    resident: Resident | None,
    subject: str,
    description: str = "",
    utility: Utility | str | None = None,
    category: str | None = None,
    priority: Priority | str = Priority.normal,
    idempotency_key: str | None = None,
    notify: bool = True,
    staff: StaffUser | None = None,
    **fields: Any,
) -> Ticket:
    """Register a ticket: number, calendar deadline, 'created' event and (``notify``) a notice; commits.

    The same ``idempotency_key`` always returns the ticket it first created, so a double tap, a retried
    update or a second device never files two tickets.
    """
    unknown = set(fields) - TICKET_FIELDS
    if unknown:
        raise TypeError(f"unknown ticket fields: {sorted(unknown)}")
    if idempotency_key:
        existing = await ticket_by_key(session, idempotency_key)
        if existing is not None:
            return existing
    kind = TicketKind(kind)
    priority = Priority(priority)
    subject = " ".join((subject or "").split())[:255]
    if not subject:
        raise InvalidInput("subject is required")
    if len(description or "") > MAX_STAFF_TEXT:
        raise InvalidInput(f"description longer than {MAX_STAFF_TEXT} characters")
    if kind is TicketKind.fault and category == FaultCategory.gas_leak:
        priority = Priority.emergency  # R20: a gas leak is always top priority
    attachments = list(fields.pop("attachments", None) or [])[:MAX_ATTACHMENTS]
    now = ctx.clock.now()
    language = fields.pop("language", None) or _lang(resident)
    try:
        number = await next_number(session, PREFIXES[kind], now)
        ticket = Ticket(
            number=number, kind=kind, status=TicketStatus.new, priority=priority,
            resident_id=resident.id if resident is not None else None,
            utility=Utility(utility) if utility else None, category=category, subject=subject,
            description=description or "", attachments=attachments, language=language,
            idempotency_key=idempotency_key, deadline_at=deadline_for(ctx, kind, priority, now),
            created_at=now, updated_at=now, **fields,
        )
        session.add(ticket)
        await session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="created", staff_id=_staff_id(staff),
                                resident_id=ticket.resident_id, to_status=TicketStatus.new.value,
                                data={"priority": priority.value, "channel": "staff" if staff else "bot"}))
        if staff is not None:
            audit.record(session, at=now, staff_id=staff.id, action="ticket.create", target_type="ticket",
                         target_id=number)
        if notify and resident is not None:
            _notify(session, ctx, ticket, N_("📝 Your request {number} has been registered. We will deal with it "
                                             "by {deadline}."), now=now)
        await session.commit()
    except IntegrityError:
        # Two devices confirmed the same form at the same instant: the other one won; return its ticket.
        await _rollback_keeping(session, resident, staff)
        if idempotency_key:
            existing = await ticket_by_key(session, idempotency_key)
            if existing is not None:
                return existing
        raise
    await _publish(ctx, "tickets", action="created", number=number, kind=kind.value, priority=priority.value)
    if priority is Priority.emergency:
        await _publish(ctx, "supervisor.alert", reason="emergency", number=number)
    return ticket


def _notify(session: AsyncSession, ctx: Any, ticket: Ticket, msgid: str, *, now: datetime,
            buttons: list[list[dict[str, Any]]] | None = None, dedupe_key: str | None = None,
            not_before: datetime | None = None, kind: str = "ticket.status", **values: Any) -> None:
    """Queue a message about ``ticket`` in the resident's language (same transaction as the change)."""
    if ticket.resident_id is None:
        return
    lang = ticket.language
    text = ctx.translator.gettext(lang, msgid).format(
        number=ticket.number, deadline=format_deadline(ticket.deadline_at, lang), **values)
    outbox.enqueue(session, resident_id=ticket.resident_id, kind=kind, now=now,
                   payload=outbox.message_payload(text, buttons=buttons), dedupe_key=dedupe_key,
                   not_before=not_before, priority=5 if ticket.priority is Priority.emergency else 0)


# --- fault reports (R8) -------------------------------------------------------------------------------------


@dataclass
class Place:
    """Where a fault is: a linked account, a typed address, or a shared location (plus the district)."""

    account_id: int | None = None
    address: str | None = None
    district: str | None = None
    street: str | None = None
    building: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def as_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dlat = math.radians(lat2 - lat1)
    dlon = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_000 * math.hypot(dlat, dlon)


def same_place(ticket: Ticket, place: Place) -> bool:
    """Duplicate test: same account, same address text, same building, or within 150 m."""
    if place.account_id and ticket.account_id == place.account_id:
        return True
    if place.address and ticket.address and normalize_address(place.address) == normalize_address(ticket.address):
        return True
    if place.building and place.street and place.district and (ticket.district, ticket.street, ticket.building) == (
        place.district, place.street, place.building
    ):
        return True
    if None not in (place.latitude, place.longitude, ticket.latitude, ticket.longitude):
        return _metres(place.latitude, place.longitude, ticket.latitude, ticket.longitude) <= 150
    return False


async def find_open_duplicate(session: AsyncSession, *, resident_id: int, category: str, place: Place) -> Ticket | None:
    """An open fault ticket of this resident for the same thing at the same place."""
    rows = await session.execute(
        select(Ticket).where(Ticket.resident_id == resident_id, Ticket.kind == TicketKind.fault,
                             Ticket.category == category, Ticket.status.in_(OPEN_TICKET_STATUSES))
        .order_by(Ticket.id)
    )
    return next((t for t in rows.scalars() if same_place(t, place)), None)


@dataclass
class FaultOutcome:
    ticket: Ticket
    linked: bool  # True: an open ticket for the same thing existed; the report was added to it


async def file_fault_report(
    session: AsyncSession, *, ctx: Any, resident: Resident, utility: Utility | str, category: FaultCategory | str,
    place: Place, extent: str | None = None, description: str = "", attachments: Sequence[str] = (),
    contact_name: str | None = None, contact_phone: str | None = None, idempotency_key: str | None = None,
) -> FaultOutcome:
    """R8: register a fault, or link it to the resident's open ticket for the same thing at the same place."""
    category = FaultCategory(category)
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description longer than {MAX_DESCRIPTION} characters")
    if idempotency_key:
        existing = await ticket_by_key(session, idempotency_key)
        if existing is not None:
            return FaultOutcome(existing, False)
    duplicate = await find_open_duplicate(session, resident_id=resident.id, category=category, place=place)
    if duplicate is not None:
        await add_resident_report(session, ctx=ctx, ticket=duplicate, resident=resident, description=description,
                                  attachments=attachments, contact_phone=contact_phone, key=idempotency_key)
        return FaultOutcome(duplicate, True)
    ticket = await create_ticket(
        session, ctx=ctx, kind=TicketKind.fault, resident=resident, subject=CATEGORY_SUBJECTS[category],
        description=description, utility=utility, category=category.value,
        priority=Priority.emergency if category is FaultCategory.gas_leak else Priority.normal,
        idempotency_key=idempotency_key, notify=False, extent=extent, attachments=list(attachments),
        contact_name=contact_name, contact_phone=contact_phone, **place.as_fields(),
    )
    return FaultOutcome(ticket, False)


async def add_resident_report(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, resident: Resident, description: str = "",
    attachments: Sequence[str] = (), contact_phone: str | None = None, key: str | None = None,
) -> TicketEvent:
    """A repeated report of a known problem: kept on the open ticket so its owner sees it (nothing is lost)."""
    if key:
        # Lock the ticket row (PostgreSQL) so two devices sending the same form add one report, not two.
        await session.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
        events = await session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                                 TicketEvent.kind == "report"))
        for ev in events.scalars():
            if (ev.data or {}).get("key") == key:
                await session.commit()  # ends the transaction and so releases the row lock
                return ev
    now = ctx.clock.now()
    event = TicketEvent(ticket_id=ticket.id, at=now, kind="report", resident_id=resident.id,
                        note=description or None,
                        data={"key": key, "attachments": list(attachments)[:MAX_ATTACHMENTS],
                              "contact_phone": contact_phone})
    session.add(event)
    if attachments:
        ticket.attachments = [*(ticket.attachments or []), *attachments][: MAX_ATTACHMENTS * 4]
    ticket.updated_at = now
    await session.commit()
    await _publish(ctx, "tickets", action="report", number=ticket.number)
    return event


# --- complaints (R5) and call-backs (R10) ------------------------------------------------------------------


async def file_complaint(
    session: AsyncSession, *, ctx: Any, resident: Resident, text: str, attachments: Sequence[str] = (),
    contact_phone: str | None = None, idempotency_key: str | None = None, utility: Utility | str | None = None,
) -> Ticket:
    """R5: a complaint is accepted at any hour; staff classify it; deadline 3 working days (R3)."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("complaint text is required")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"complaint longer than {MAX_DESCRIPTION} characters")
    first_line = text.splitlines()[0]
    subject = "投诉 Complaint: " + (first_line[:60] + ("…" if len(first_line) > 60 else ""))
    return await create_ticket(
        session, ctx=ctx, kind=TicketKind.complaint, resident=resident, subject=subject, description=text,
        utility=utility, idempotency_key=idempotency_key, notify=False, attachments=list(attachments),
        contact_phone=contact_phone, contact_name=resident.first_name,
    )


async def create_callback(
    session: AsyncSession, *, ctx: Any, resident: Resident, question: str, contact_phone: str | None = None,
    idempotency_key: str | None = None, notify: bool = False, source: str = "bot",
) -> Ticket:
    """R10: a question we could not answer on the spot; someone calls (or writes) back within 24 hours."""
    question = (question or "").strip()[:MAX_DESCRIPTION]
    subject = "回电 Call back: " + (question.splitlines()[0][:60] if question else "-")
    return await create_ticket(
        session, ctx=ctx, kind=TicketKind.callback, resident=resident, subject=subject, description=question,
        idempotency_key=idempotency_key, notify=notify, contact_phone=contact_phone,
        contact_name=resident.first_name,
    )


async def question_of(session: AsyncSession, *, question_id: int, resident_id: int) -> QuestionLog | None:
    """A logged question, only if it is this resident's own (forged button data gets nothing)."""
    row = await session.get(QuestionLog, question_id)
    if row is None or row.resident_id != resident_id:
        return None
    return row


# --- staff actions ------------------------------------------------------------------------------------------

STATUS_MESSAGES = {
    TicketStatus.accepted: N_("👤 Your request {number} has been accepted; a member of our staff is now "
                              "responsible for it. We will finish by {deadline}."),
    TicketStatus.in_progress: N_("🔧 Work on your request {number} has started."),
    TicketStatus.resolved: N_("✅ Your request {number} has been resolved.\n{note}"),
    TicketStatus.closed: N_("📁 Your request {number} is now closed. Thank you for your patience."),
    TicketStatus.cancelled: N_("Your request {number} has been cancelled.\nReason: {note}"),
    TicketStatus.duplicate: N_("Your request {number} is about the same problem as request {original}, which is "
                               "already being handled. We will keep you informed under {original}."),
}
REOPENED_MESSAGE = N_("🔁 Your request {number} has been reopened and work continues. New date: {deadline}.")


def _check_owner(ticket: Ticket, staff: StaffUser | None) -> None:
    """R6: the first person who takes a case owns it; others act on it only as supervisors."""
    if staff is None:
        return  # the system or the resident's own flow, not a member of staff
    if not may_act_on(ticket.owner_id, staff):  # issue 12 F2: an identity without an id owns nothing
        raise NotAllowed("this ticket is owned by another member of staff (R6); ask a supervisor to reassign it")


def is_major_complaint(ticket: Ticket) -> bool:
    """R5: level 2 (escalated outside) or class A (bribes, overcharging, abuse) goes straight to leadership."""
    return ticket.kind is TicketKind.complaint and (ticket.complaint_level == 2 or ticket.complaint_class == "A")


def _check_complaint_can_close(ticket: Ticket, staff: StaffUser | None) -> None:
    """R5: no complaint is closed unclassified, and a major one only by a supervisor."""
    if ticket.complaint_level is None:
        raise InvalidInput("R5: classify the complaint before closing it: impact level 1 or 2 and, where staff "
                           "are at fault, class A, B or C")
    if is_major_complaint(ticket) and staff is not None and not _is_supervisor(staff):
        raise NotAllowed("R5: a level-2 or class-A complaint is handled and closed by a supervisor")


async def change_status(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, to: TicketStatus | str, staff: StaffUser | None = None,
    note: str | None = None, paid: bool = False, duplicate_of: Ticket | None = None,
) -> Ticket:
    """Move a ticket to another status; records the event, tells the resident; commits.

    ``paid`` (on resolution) marks paid work, which R4 always follows up. Resolving schedules the R4 survey.
    """
    to = TicketStatus(to)
    frm = ticket.status
    if to not in TRANSITIONS[frm]:
        raise TransitionError(f"a ticket cannot go from {frm.value} to {to.value}")
    note = (note or "").strip() or None
    if to in NOTE_REQUIRED and not note:
        raise InvalidInput(f"a note is required to set {to.value}")
    if ticket.kind is TicketKind.complaint and to in (TicketStatus.resolved, TicketStatus.closed):
        _check_complaint_can_close(ticket, staff)
    if to is TicketStatus.cancelled and staff is not None and not _is_supervisor(staff):
        raise NotAllowed("cancelling a resident's request needs a supervisor's approval (R2): "
                         "ask for it with the reason the resident will read")
    if note and len(note) > MAX_STAFF_TEXT:
        raise InvalidInput(f"note longer than {MAX_STAFF_TEXT} characters")
    require_polite(note, what="resolution or cancellation note")  # R14: the note is sent to the resident
    if to is TicketStatus.duplicate:
        if duplicate_of is None or duplicate_of.id == ticket.id:
            raise InvalidInput("duplicate_of must name another ticket")
        if duplicate_of.status is TicketStatus.duplicate:
            raise InvalidInput("duplicate_of is itself a duplicate; link to the original")
    _check_owner(ticket, staff)
    now = ctx.clock.now()
    ticket.status = to
    ticket.updated_at = now
    if staff is not None and staff.id is not None and ticket.owner_id is None:
        ticket.owner_id = staff.id  # R6: first contact owns it
    data: dict[str, Any] = {}
    if to is TicketStatus.resolved:
        ticket.resolved_at = now
        data["paid"] = bool(paid)
    elif to is TicketStatus.closed:
        ticket.closed_at = now
    elif to is TicketStatus.duplicate:
        ticket.duplicate_of_id = duplicate_of.id
        data["duplicate_of"] = duplicate_of.number
        session.add(TicketEvent(ticket_id=duplicate_of.id, at=now, kind="duplicate_linked",
                                staff_id=_staff_id(staff), data={"ticket": ticket.number}))
    elif frm is TicketStatus.resolved and to is TicketStatus.in_progress:
        ticket.resolved_at = None
        if ticket.deadline_at < now:  # reopened after the promise: a fresh R3 period
            ticket.deadline_at = deadline_for(ctx, ticket.kind, ticket.priority, now)
            ticket.escalated_at = None
        from core import surveys

        await surveys.cancel_pending(session, ticket_id=ticket.id)
    # The resident's notice is queued before the survey, so it is also delivered first.
    if frm is TicketStatus.resolved and to is TicketStatus.in_progress:
        _notify(session, ctx, ticket, REOPENED_MESSAGE, now=now)
    elif to is TicketStatus.duplicate:
        _notify(session, ctx, ticket, STATUS_MESSAGES[to], now=now, original=duplicate_of.number)
    else:
        _notify(session, ctx, ticket, STATUS_MESSAGES[to], now=now, note=esc(note))
    if to is TicketStatus.resolved:
        from core import surveys

        decision = await surveys.schedule_for_ticket(session, ctx=ctx, ticket=ticket, paid=paid, staff=staff, now=now)
        data["survey"] = decision.as_dict()
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", staff_id=_staff_id(staff),
                            from_status=frm.value, to_status=to.value, note=note, data=data))
    if staff is not None:
        audit.record(session, at=now, staff_id=staff.id, action="ticket.status", target_type="ticket",
                     target_id=ticket.number, to=to.value)
    await session.commit()
    await _publish(ctx, "tickets", action="status", number=ticket.number, status=to.value)
    return ticket


async def assign(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, staff: StaffUser, assignee: StaffUser,
) -> Ticket:
    """Give a ticket an owner (R6). Taking a free ticket is anyone's; moving an owned one is a supervisor's."""
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise TransitionError("only open tickets can be assigned")
    if not assignee.active:
        raise InvalidInput("that member of staff is not active")
    if ticket.owner_id is not None and ticket.owner_id != assignee.id and not _is_supervisor(staff):
        raise NotAllowed("this ticket already has an owner (R6); only a supervisor can reassign it")
    if ticket.owner_id is None and assignee.id != staff.id and not _is_supervisor(staff):
        raise NotAllowed("only a supervisor can assign a ticket to someone else")
    now = ctx.clock.now()
    previous = ticket.owner_id
    ticket.owner_id = assignee.id
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="assigned", staff_id=_staff_id(staff),
                            data={"from": previous, "to": assignee.id, "to_name": assignee.display_name}))
    audit.record(session, at=now, staff_id=_staff_id(staff), action="ticket.assign", target_type="ticket",
                 target_id=ticket.number, to=assignee.id)
    if ticket.status is TicketStatus.new:  # someone owns it now: the resident hears it is accepted
        ticket.status = TicketStatus.accepted
        session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", staff_id=_staff_id(staff),
                                from_status=TicketStatus.new.value, to_status=TicketStatus.accepted.value))
        _notify(session, ctx, ticket, STATUS_MESSAGES[TicketStatus.accepted], now=now)
    await session.commit()
    await _publish(ctx, "tickets", action="assigned", number=ticket.number, owner_id=assignee.id)
    return ticket


REPLY_MESSAGE = N_("💬 Message from our staff about your request {number}:\n{text}")


async def reply_to_resident(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, staff: StaffUser, text: str, guard_override: bool = False,
) -> TicketEvent:
    """A written message to the resident about their ticket (through the outbox).

    R14: refused when it contains a forbidden phrase, unless the console's audited "send anyway" was used."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the reply is empty")
    if len(text) > MAX_STAFF_TEXT:
        raise InvalidInput(f"reply longer than {MAX_STAFF_TEXT} characters")
    if not guard_override:
        require_polite(text, what="reply")
    if ticket.resident_id is None:
        raise InvalidInput("this ticket has no resident to reply to")
    _check_owner(ticket, staff)
    now = ctx.clock.now()
    if ticket.owner_id is None and staff.id is not None:
        ticket.owner_id = staff.id
    ticket.updated_at = now
    event = TicketEvent(ticket_id=ticket.id, at=now, kind="reply", staff_id=_staff_id(staff), note=text)
    session.add(event)
    _notify(session, ctx, ticket, REPLY_MESSAGE, now=now, kind="ticket.reply", text=esc(text))
    audit.record(session, at=now, staff_id=_staff_id(staff), action="ticket.reply", target_type="ticket",
                 target_id=ticket.number)
    await session.commit()
    await _publish(ctx, "tickets", action="reply", number=ticket.number)
    return event


async def add_note(session: AsyncSession, *, ctx: Any, ticket: Ticket, staff: StaffUser, text: str) -> TicketEvent:
    """An internal note: staff only, never sent."""
    text = (text or "").strip()
    if not text or len(text) > MAX_STAFF_TEXT:
        raise InvalidInput(f"a note needs 1 to {MAX_STAFF_TEXT} characters")
    _check_owner(ticket, staff)  # issue 12 F10
    now = ctx.clock.now()
    event = TicketEvent(ticket_id=ticket.id, at=now, kind="note", staff_id=_staff_id(staff), note=text)
    session.add(event)
    ticket.updated_at = now
    await session.commit()
    return event


async def mark_duplicate(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, original: Ticket, staff: StaffUser | None,
    note: str | None = None,
) -> Ticket:
    """Close ``ticket`` as a duplicate of ``original``; the resident is pointed at the original."""
    return await change_status(session, ctx=ctx, ticket=ticket, to=TicketStatus.duplicate, staff=staff, note=note,
                               duplicate_of=original)


COMPLAINT_CLASSES = ("A", "B", "C")


async def classify_complaint(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, staff: StaffUser, level: int, klass: str | None = None,
    note: str | None = None,
) -> Ticket:
    """R5: level 1 internal / level 2 escalated; class A/B/C when staff are at fault. Level 2 goes to a
    supervisor at once."""
    if ticket.kind is not TicketKind.complaint:
        raise InvalidInput("only complaints are classified")
    if level not in (1, 2):
        raise InvalidInput("level must be 1 or 2")
    klass = (klass or "").strip().upper() or None
    if klass is not None and klass not in COMPLAINT_CLASSES:
        raise InvalidInput("class must be A, B or C")
    _check_owner(ticket, staff)  # issue 12 F10: a level-2 class escalates, so only the owner or a supervisor
    now = ctx.clock.now()
    ticket.complaint_level = level
    ticket.complaint_class = klass
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="classified", staff_id=_staff_id(staff), note=note,
                            data={"level": level, "class": klass}))
    escalate = level == 2 or klass == "A"  # R5: major complaints go straight to leadership
    if escalate:
        ticket.priority = Priority.high
        if ticket.escalated_at is None:
            ticket.escalated_at = now
            session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="escalated", staff_id=_staff_id(staff),
                                    data={"reason": "complaint_level_2" if level == 2 else "complaint_class_a"}))
    audit.record(session, at=now, staff_id=_staff_id(staff), action="complaint.classify", target_type="ticket",
                 target_id=ticket.number, level=level, klass=klass)
    await session.commit()
    await _publish(ctx, "tickets", action="classified", number=ticket.number, level=level)
    if escalate:
        await _publish(ctx, "supervisor.alert", reason="complaint", number=ticket.number, level=level, klass=klass)
    return ticket


DEADLINE_MESSAGE = N_("⏳ We are sorry: your request {number} cannot be finished by the date we promised.\n"
                      "Reason: {reason}\nNew date: {deadline}")


async def extend_deadline(
    session: AsyncSession, *, ctx: Any, ticket: Ticket, staff: StaffUser, new_deadline: datetime, reason: str,
) -> Ticket:
    """R3: when the promise cannot be kept, tell the resident why and the new date."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required")
    require_polite(reason, what="reason for the new date")  # R14: the reason is sent to the resident
    if new_deadline.tzinfo is None:
        raise InvalidInput("the new deadline needs a time zone")
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise TransitionError("only open tickets have a deadline to move")
    if new_deadline <= ticket.deadline_at:
        raise InvalidInput("the new deadline must be later than the current one")
    _check_owner(ticket, staff)
    now = ctx.clock.now()
    old = ticket.deadline_at
    ticket.deadline_at = new_deadline
    ticket.escalated_at = None
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="deadline", staff_id=_staff_id(staff), note=reason,
                            data={"from": old.isoformat(), "to": new_deadline.isoformat()}))
    _notify(session, ctx, ticket, DEADLINE_MESSAGE, now=now, reason=esc(reason))
    audit.record(session, at=now, staff_id=_staff_id(staff), action="ticket.deadline", target_type="ticket",
                 target_id=ticket.number)
    await session.commit()
    return ticket


# --- residents acting on their own tickets ------------------------------------------------------------------


def resident_can_cancel(ticket: Ticket) -> bool:
    """A resident may withdraw a request nobody has taken yet."""
    return ticket.status is TicketStatus.new and ticket.kind in (TicketKind.fault, TicketKind.complaint,
                                                                 TicketKind.callback)


async def cancel_by_resident(session: AsyncSession, *, ctx: Any, ticket: Ticket, resident: Resident) -> Ticket:
    if ticket.resident_id != resident.id:
        raise NotAllowed("not your request")
    if not resident_can_cancel(ticket):
        raise TransitionError("this request is already being handled and cannot be withdrawn here")
    now = ctx.clock.now()
    ticket.status = TicketStatus.cancelled
    ticket.updated_at = now
    session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="status", resident_id=resident.id,
                            from_status=TicketStatus.new.value, to_status=TicketStatus.cancelled.value,
                            note="withdrawn by the resident"))
    await session.commit()
    await _publish(ctx, "tickets", action="status", number=ticket.number, status="cancelled")
    return ticket


async def resident_ticket(session: AsyncSession, *, ticket_id: int, resident_id: int) -> Ticket | None:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.resident_id != resident_id:
        return None
    return ticket


@dataclass
class ResidentRequests:
    tickets: list[Ticket] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)


OPEN_APPOINTMENT_STATUSES = (AppointmentStatus.requested, AppointmentStatus.proposed, AppointmentStatus.confirmed)


async def resident_requests(
    session: AsyncSession, *, resident_id: int, now: datetime, recent_days: int = 30, limit: int = 10,
) -> ResidentRequests:
    """Open requests plus those finished in the last ``recent_days``, newest first."""
    since = now - timedelta(days=recent_days)
    tickets = await session.execute(
        select(Ticket).where(
            Ticket.resident_id == resident_id, Ticket.kind != TicketKind.followup,
            or_(Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.updated_at >= since),
        ).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    )
    appts = await session.execute(
        select(Appointment).where(
            Appointment.resident_id == resident_id,
            or_(Appointment.status.in_(OPEN_APPOINTMENT_STATUSES), Appointment.updated_at >= since),
        ).order_by(Appointment.day.desc(), Appointment.id.desc()).limit(limit)
    )
    return ResidentRequests(list(tickets.scalars()), list(appts.scalars()))


# --- reading for the console and the API --------------------------------------------------------------------


@dataclass
class TicketFilters:
    status: Sequence[TicketStatus] = ()
    kind: Sequence[TicketKind] = ()
    priority: Sequence[Priority] = ()
    owner_id: int | None = None
    unassigned: bool = False
    resident_id: int | None = None
    district: str | None = None
    utility: Utility | None = None
    category: str | None = None
    overdue: bool = False  # open and past the deadline (needs ``now``)
    escalated: bool | None = None
    open_only: bool = False
    number: str | None = None
    text: str | None = None  # subject contains
    created_from: datetime | None = None
    created_to: datetime | None = None


SORTS = {
    "newest": ((Ticket.created_at, True), (Ticket.id, True)),
    "deadline": ((Ticket.deadline_at, False), (Ticket.id, False)),
}


@dataclass
class TicketPage:
    items: list[Ticket]
    next_cursor: str | None


def _filter_clauses(f: TicketFilters, now: datetime | None) -> list[Any]:
    clauses: list[Any] = []
    if f.status:
        clauses.append(Ticket.status.in_([TicketStatus(s) for s in f.status]))
    if f.open_only:
        clauses.append(Ticket.status.in_(OPEN_TICKET_STATUSES))
    if f.kind:
        clauses.append(Ticket.kind.in_([TicketKind(k) for k in f.kind]))
    if f.priority:
        clauses.append(Ticket.priority.in_([Priority(p) for p in f.priority]))
    if f.owner_id is not None:
        clauses.append(Ticket.owner_id == f.owner_id)
    if f.unassigned:
        clauses.append(Ticket.owner_id.is_(None))
    if f.resident_id is not None:
        clauses.append(Ticket.resident_id == f.resident_id)
    if f.district:
        clauses.append(Ticket.district == f.district)
    if f.utility:
        clauses.append(Ticket.utility == Utility(f.utility))
    if f.category:
        clauses.append(Ticket.category == f.category)
    if f.overdue:
        if now is None:
            raise InvalidInput("the overdue filter needs the current time")
        clauses.append(and_(Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.deadline_at < now))
    if f.escalated is True:
        clauses.append(Ticket.escalated_at.is_not(None))
    elif f.escalated is False:
        clauses.append(Ticket.escalated_at.is_(None))
    if f.number:
        clauses.append(Ticket.number == f.number.strip().upper())
    if f.text:
        clauses.append(Ticket.subject.ilike("%" + f.text.replace("%", r"\%").replace("_", r"\_") + "%",
                                            escape="\\"))
    if f.created_from:
        clauses.append(Ticket.created_at >= f.created_from)
    if f.created_to:
        clauses.append(Ticket.created_at < f.created_to)
    return clauses


def _encode_cursor(ticket: Ticket, sort: str) -> str:
    key = ticket.created_at if sort == "newest" else ticket.deadline_at
    return f"{key.isoformat()}~{ticket.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, ident = cursor.rsplit("~", 1)
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            raise ValueError
        return when, int(ident)
    except ValueError as e:
        raise InvalidInput("invalid cursor") from e


async def list_tickets(
    session: AsyncSession, filters: TicketFilters | None = None, *, now: datetime | None = None,
    sort: str = "newest", limit: int = 50, cursor: str | None = None,
) -> TicketPage:
    """A page of tickets matching ``filters`` (keyset pagination: pass ``next_cursor`` back)."""
    f = filters or TicketFilters()
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {sorted(SORTS)}")
    limit = max(1, min(limit, 200))
    (key_col, desc), (id_col, _) = SORTS[sort]
    query = select(Ticket).where(*_filter_clauses(f, now))
    if cursor:
        when, ident = _decode_cursor(cursor)
        if desc:
            query = query.where(or_(key_col < when, and_(key_col == when, id_col < ident)))
        else:
            query = query.where(or_(key_col > when, and_(key_col == when, id_col > ident)))
    order = (key_col.desc(), id_col.desc()) if desc else (key_col.asc(), id_col.asc())
    rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return TicketPage(rows, _encode_cursor(rows[-1], sort) if more and rows else None)


async def count_tickets(session: AsyncSession, filters: TicketFilters | None = None, *,
                        now: datetime | None = None) -> int:
    query = select(func.count()).select_from(Ticket).where(*_filter_clauses(filters or TicketFilters(), now))
    return (await session.execute(query)).scalar_one()


async def get_ticket(session: AsyncSession, ref: str | int) -> Ticket | None:
    """A ticket by number (``BX-20261123-0042``) or id, with its history loaded."""
    query = select(Ticket).options(selectinload(Ticket.events))
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        query = query.where(Ticket.id == int(ref))
    else:
        query = query.where(Ticket.number == ref.strip().upper())
    return (await session.execute(query)).scalar_one_or_none()


# --- overdue (R3, R7) ---------------------------------------------------------------------------------------


async def escalate_overdue(session: AsyncSession, *, ctx: Any, now: datetime) -> list[str]:
    """Flag open tickets past their deadline once and alert supervisors; returns the ticket numbers.

    The UPDATE ... WHERE escalated_at IS NULL claims each ticket atomically, so two workers never flag
    (or alert) the same ticket twice.
    """
    candidates = (await session.execute(
        select(Ticket.id).where(Ticket.status.in_(OPEN_TICKET_STATUSES), Ticket.deadline_at < now,
                                Ticket.escalated_at.is_(None)).limit(500)
    )).scalars().all()
    flagged: list[tuple[int, str]] = []
    for ticket_id in candidates:
        res = await session.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.escalated_at.is_(None))
            .values(escalated_at=now).returning(Ticket.number)
        )
        number = res.scalar_one_or_none()
        if number is not None:
            flagged.append((ticket_id, number))
            session.add(TicketEvent(ticket_id=ticket_id, at=now, kind="escalated", data={"reason": "overdue"}))
    await session.commit()
    for _, number in flagged:
        await _publish(ctx, "supervisor.alert", reason="overdue", number=number)
    return [n for _, n in flagged]


# --- what needs a supervisor (R2, R3, R4, R5, R7, R20) ------------------------------------------------------


@dataclass
class SupervisorQueue:
    """Open work a supervisor must see: the persistent side of the live ``supervisor.alert`` events."""

    tickets: list[Ticket]
    appointments: list[Appointment]


def supervisor_reason(ticket: Ticket, now: datetime) -> str:
    """Why a ticket is in the supervisor queue (the first that applies)."""
    if ticket.kind is TicketKind.followup:
        return "low_score_followup"  # R4: a score of 6 or less
    if ticket.kind is TicketKind.complaint and (ticket.complaint_level == 2 or ticket.complaint_class == "A"):
        return "major_complaint"  # R5: straight to leadership
    if ticket.deadline_at < now:
        return "overdue"  # R3 / R7
    if ticket.priority is Priority.emergency:
        return "emergency"  # R20
    return "escalated"


async def supervisor_queue(session: AsyncSession, *, now: datetime, limit: int = 200) -> SupervisorQueue:
    """Open tickets that are escalated, overdue, emergencies, major complaints or R4 follow-up tasks, and visit
    requests not answered within 1 working day (R2); most urgent deadline first."""
    limit = max(1, min(limit, 500))
    needs = or_(
        Ticket.escalated_at.is_not(None),
        Ticket.deadline_at < now,
        Ticket.priority == Priority.emergency,
        Ticket.kind == TicketKind.followup,
        and_(Ticket.kind == TicketKind.complaint,
             or_(Ticket.complaint_level == 2, Ticket.complaint_class == "A")),
    )
    rows = await session.execute(
        select(Ticket).where(Ticket.status.in_(OPEN_TICKET_STATUSES), needs)
        .order_by(Ticket.deadline_at, Ticket.id).limit(limit)
    )
    appts = await session.execute(
        select(Appointment).where(Appointment.status == AppointmentStatus.requested, Appointment.respond_by < now)
        .order_by(Appointment.respond_by, Appointment.id).limit(limit)
    )
    return SupervisorQueue(list(rows.scalars()), list(appts.scalars()))

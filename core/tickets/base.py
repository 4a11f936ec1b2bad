"""The shared ticket core: vocabulary, errors, the status machine, numbering and deadlines, creation.

Every change is one service call that commits the ticket, its history event and the notice to the
resident (outbox, in the resident's language) in a single transaction. Staff functions take the
acting ``StaffUser``; integrations act through their token's service identity (a real staff row).
Each request kind lives in its own module beside this one and imports only this one.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from babel.dates import format_skeleton
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, language_guard, outbox
from core.clock import local
from core.context import AppContext
from core.numbers import next_number
from core.staff import has_role, may_act_on
from db.enums import Priority, StaffRole, TicketKind, TicketStatus, Utility
from db.models import Resident, StaffUser, Ticket, TicketEvent

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


# Here, not in faults: creating any ticket applies R20 (a gas leak is always an emergency).
class FaultCategory(StrEnum):
    gas_leak = "gas_leak"
    no_gas = "no_gas"
    no_water = "no_water"
    low_pressure = "low_pressure"
    water_leak = "water_leak"  # leak or burst pipe
    meter_fault = "meter_fault"
    power_cut = "power_cut"
    other = "other"


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


def deadline_for(ctx: AppContext, kind: TicketKind, priority: Priority, now: datetime) -> datetime:
    """The promised completion time of a new ticket, from the working-day calendar."""
    if kind is TicketKind.callback:
        return now + timedelta(hours=24)  # R10: call back within 24 hours (clock hours)
    if kind is TicketKind.fault and priority is Priority.emergency:
        return ctx.calendar.deadline(now, 1)  # R7: emergency repair orders within 1 working day
    if kind is TicketKind.followup:
        return ctx.calendar.deadline(now, 1)  # R7: the customer is called back within the first working day
    return ctx.calendar.deadline(now, 3)  # R3 / R7: 3 working days


async def rollback_keeping(session: AsyncSession, *objects: Any) -> None:
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


async def publish(ctx: AppContext, topic: str, **data: Any) -> None:
    """Console live update after the commit (best effort: the pages also refresh on load)."""
    try:
        await ctx.live.publish(topic, **data)
    except Exception:  # pragma: no cover - LiveHub already swallows transport errors
        log.warning("live publish failed for %s", topic, exc_info=True)


def staff_id_of(staff: StaffUser | None) -> int | None:
    return None if staff is None else staff.id


def is_supervisor(staff: StaffUser | None) -> bool:
    return staff is not None and has_role(staff.role, StaffRole.supervisor)


def check_owner(ticket: Ticket, staff: StaffUser | None) -> None:
    """R6: the first person who takes a case owns it; others act on it only as supervisors."""
    if staff is None:
        return  # the system or the resident's own flow, not a member of staff
    if not may_act_on(ticket.owner_id, staff):  # issue 12 F2: an identity without an id owns nothing
        raise NotAllowed("this ticket is owned by another member of staff (R6); ask a supervisor to reassign it")


# --- creating -----------------------------------------------------------------------------------------------


async def ticket_by_key(session: AsyncSession, key: str) -> Ticket | None:
    return (await session.execute(select(Ticket).where(Ticket.idempotency_key == key))).scalar_one_or_none()


async def create_ticket(
    session: AsyncSession,
    *,
    ctx: AppContext,
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
        session.add(TicketEvent(ticket_id=ticket.id, at=now, kind="created", staff_id=staff_id_of(staff),
                                resident_id=ticket.resident_id, to_status=TicketStatus.new.value,
                                data={"priority": priority.value, "channel": "staff" if staff else "bot"}))
        if staff is not None:
            audit.record(session, at=now, staff_id=staff.id, action="ticket.create", target_type="ticket",
                         target_id=number)
        if notify and resident is not None:
            notify_resident(session, ctx, ticket, N_("📝 Your request {number} has been registered. We will deal "
                                                     "with it by {deadline}."), now=now)
        await session.commit()
    except IntegrityError:
        # Two devices confirmed the same form at the same instant: the other one won; return its ticket.
        await rollback_keeping(session, resident, staff)
        if idempotency_key:
            existing = await ticket_by_key(session, idempotency_key)
            if existing is not None:
                return existing
        raise
    await publish(ctx, "tickets", action="created", number=number, kind=kind.value, priority=priority.value)
    if priority is Priority.emergency:
        await publish(ctx, "supervisor.alert", reason="emergency", number=number)
    return ticket


def notify_resident(session: AsyncSession, ctx: AppContext, ticket: Ticket, msgid: str, *, now: datetime,
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

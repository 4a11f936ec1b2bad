"""Reading tickets for the console and the API: filters, keyset pages, one ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.tickets.base import InvalidInput
from db.enums import OPEN_TICKET_STATUSES, Priority, TicketKind, TicketStatus, Utility
from db.models import Ticket

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

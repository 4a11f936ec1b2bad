"""Fault reports (R8, R20): categories, places, duplicates and repeated reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import AppContext
from core.tickets.base import (
    MAX_ATTACHMENTS,
    MAX_DESCRIPTION,
    FaultCategory,
    InvalidInput,
    create_ticket,
    normalize_address,
    publish,
    ticket_by_key,
)
from db.enums import OPEN_TICKET_STATUSES, Priority, TicketKind, Utility
from db.models import Resident, Ticket, TicketEvent

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
    if (place.latitude is not None and place.longitude is not None
            and ticket.latitude is not None and ticket.longitude is not None):
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
    session: AsyncSession, *, ctx: AppContext, resident: Resident, utility: Utility | str,
    category: FaultCategory | str, place: Place, extent: str | None = None, description: str = "",
    attachments: Sequence[str] = (), contact_name: str | None = None, contact_phone: str | None = None,
    idempotency_key: str | None = None,
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
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, resident: Resident, description: str = "",
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
    await publish(ctx, "tickets", action="report", number=ticket.number)
    return event

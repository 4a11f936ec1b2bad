"""Outages for the bot, the fault flow (R8) and the free-text flow; district subscriptions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.outages.areas import area_districts, area_matches, known_districts
from core.outages.base import STALE_AFTER, OutageError
from db.enums import AccountState, OutageStatus, Utility
from db.models import AccountLink, DistrictSubscription, OutageNotice, UtilityAccount

# --- lookups for the bot, the fault flow and the free-text flow -----------------------------------------------


async def _announced(session: AsyncSession, utility: Utility | None = None) -> list[OutageNotice]:
    q = select(OutageNotice).where(OutageNotice.status == OutageStatus.announced)
    if utility is not None:
        q = q.where(OutageNotice.utility == utility)
    return list((await session.execute(q.order_by(OutageNotice.starts_at, OutageNotice.id))).scalars())


def is_active(outage: OutageNotice, now: datetime) -> bool:
    """Under way now: announced, started, not restored, and not forgotten long past its estimate."""
    return (outage.status is OutageStatus.announced and outage.starts_at <= now
            and outage.restore_at + STALE_AFTER >= now)


async def active_outages_at(
    session: AsyncSession,
    *,
    now: datetime,
    district: str,
    street: str | None = None,
    building: str | None = None,
    utility: Utility | None = None,
) -> list[OutageNotice]:
    """Outages under way at a location (R8: a fault there is most likely this outage, not a new fault).
    A location known only to the district also matches notices for part of that district."""
    return [o for o in await _announced(session, utility)
            if is_active(o, now) and area_matches(o.area, district=district, street=street, building=building)]


@dataclass
class ResidentOutages:
    current: list[OutageNotice] = field(default_factory=list)
    upcoming: list[OutageNotice] = field(default_factory=list)
    addresses: int = 0  # linked accounts considered
    districts: list[str] = field(default_factory=list)  # subscribed districts


async def _resident_places(session: AsyncSession, resident_id: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    accounts = await session.execute(
        select(UtilityAccount.district, UtilityAccount.street, UtilityAccount.building)
        .join(AccountLink, AccountLink.account_id == UtilityAccount.id)
        .where(AccountLink.resident_id == resident_id, UtilityAccount.state != AccountState.dismantled)
    )
    subs = await subscriptions(session, resident_id)
    return [(d, s, b) for d, s, b in accounts], subs


def _affects(outage: OutageNotice, places: Iterable[tuple[str, str, str]], districts: Iterable[str]) -> bool:
    if any(area_matches(outage.area, district=d, street=s, building=b) for d, s, b in places):
        return True
    touched = set(area_districts(outage.area))
    return any(d in touched for d in districts)


async def resident_outages(session: AsyncSession, *, resident_id: int, now: datetime,
                           utility: Utility | None = None) -> ResidentOutages:
    """Current and upcoming outages at the resident's linked addresses and subscribed districts."""
    places, districts = await _resident_places(session, resident_id)
    out = ResidentOutages(addresses=len(places), districts=districts)
    if not places and not districts:
        return out
    for o in await _announced(session, utility):
        if not _affects(o, places, districts):
            continue
        if is_active(o, now):
            out.current.append(o)
        elif o.starts_at > now:
            out.upcoming.append(o)
    return out


async def outage_for_resident(session: AsyncSession, *, resident_id: int, now: datetime,
                              utility: Utility | None = None) -> list[OutageNotice]:
    """Outages under way where the resident lives (linked accounts) or follows (subscribed districts):
    the answer to "为什么停水了" (R9)."""
    return (await resident_outages(session, resident_id=resident_id, now=now, utility=utility)).current


# --- district subscriptions -------------------------------------------------------------------------------------


async def subscriptions(session: AsyncSession, resident_id: int) -> list[str]:
    rows = await session.execute(
        select(DistrictSubscription.district).where(DistrictSubscription.resident_id == resident_id)
        .order_by(DistrictSubscription.district)
    )
    return [d for (d,) in rows]


async def toggle_subscription(session: AsyncSession, *, resident_id: int, district: str, now: datetime) -> bool:
    """Subscribe to a district's notices, or unsubscribe if already subscribed; returns the new state. Commits."""
    if district not in await known_districts(session):
        raise OutageError("Unknown district")
    existing = (await session.execute(
        select(DistrictSubscription).where(DistrictSubscription.resident_id == resident_id,
                                           DistrictSubscription.district == district)
    )).scalar_one_or_none()
    if existing is not None:
        await session.delete(existing)
        await session.commit()
        return False
    session.add(DistrictSubscription(resident_id=resident_id, district=district, created_at=now))
    try:
        await session.commit()
    except IntegrityError:  # a double tap subscribed already
        await session.rollback()
    return True

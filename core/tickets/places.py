"""Where a request is: the resident's verified accounts, districts served, outages known at a place.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import linked_accounts
from core.outages.lookups import active_outages_at
from core.outages.texts import outage_text
from db.enums import Utility
from db.models import SlotCapacity, UtilityAccount
from db.session import database_key

# --- contracts with other features ---------------------------------------------------------------------------


async def resident_accounts(session: AsyncSession, resident_id: int) -> list[Any]:
    """The resident's verified accounts (core.accounts); only those may lend an address."""
    return list(await linked_accounts(session, resident_id))


async def known_outages(
    session: AsyncSession, *, now: datetime, utility: Utility | None, district: str | None,
    street: str | None = None, building: str | None = None,
) -> list[Any]:
    """Outage notices in progress at a place (core.outages); [] without a district."""
    if not district:
        return []
    return list(await active_outages_at(session, now=now, district=district, street=street, building=building,
                                        utility=utility))


def outage_message(outage: Any, lang: str | None, *, now: datetime | None = None) -> str:
    """R9: reason, estimated restoration and an apology, from core.outages."""
    return outage_text(outage, "en" if lang == "en" else "zh_Hans", now=now)


_DISTRICTS_TTL = 60.0  # seconds; districts change with a new estate, not from one minute to the next
_districts_cache: dict[str, tuple[float, list[str]]] = {}


async def service_districts(session: AsyncSession) -> list[str]:
    """Districts we serve (where accounts or visit capacity exist), for residents to pick from."""
    key = database_key(session)
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

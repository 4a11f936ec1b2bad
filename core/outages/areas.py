"""Outage areas: districts, streets and buildings, checked against the accounts' addresses.

An outage's *area* is structured like the accounts' addresses::

    {"districts": ["城东区"],
     "streets":   [{"district": "城西区", "street": "建设路"}],
     "buildings": [{"district": "城南区", "street": "南山路", "building": "12"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outages.base import MAX_AREA_ENTRIES, OutageError, locale_of
from db.models import UtilityAccount

# --- areas -------------------------------------------------------------------------------------------------


def _clean(value: Any, limit: int = 128) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise OutageError(f"Address part too long: {text[:30]}… · 地址过长")
    return text


def normalize_area(raw: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Validate and canonicalise an area (whitespace trimmed, duplicates dropped, narrower entries kept only
    when no wider entry already covers them)."""
    districts = sorted({_clean(d, 64) for d in raw.get("districts") or [] if _clean(d, 64)})
    streets: dict[tuple[str, str], dict[str, str]] = {}
    for s in raw.get("streets") or []:
        d, st = _clean(s.get("district"), 64), _clean(s.get("street"))
        if not d or not st:
            raise OutageError("A street needs its district · 街道需注明所属区")
        if d not in districts:
            streets[(d, st)] = {"district": d, "street": st}
    buildings: dict[tuple[str, str, str], dict[str, str]] = {}
    for b in raw.get("buildings") or []:
        d, st, bl = _clean(b.get("district"), 64), _clean(b.get("street")), _clean(b.get("building"), 32)
        if not d or not st or not bl:
            raise OutageError("A building needs its district and street · 楼栋需注明区和街道")
        if d not in districts and (d, st) not in streets:
            buildings[(d, st, bl)] = {"district": d, "street": st, "building": bl}
    area: dict[str, list[Any]] = {
        "districts": districts, "streets": list(streets.values()), "buildings": list(buildings.values()),
    }
    size = len(districts) + len(streets) + len(buildings)
    if size == 0:
        raise OutageError("The area is empty: choose at least one district, street or building · 请填写停供范围")
    if size > MAX_AREA_ENTRIES:
        raise OutageError(f"At most {MAX_AREA_ENTRIES} area entries · 范围条目过多")
    return area


def area_districts(area: Mapping[str, Any]) -> list[str]:
    """Every district the area touches (wholly or in part)."""
    found = set(area.get("districts") or [])
    found |= {s["district"] for s in area.get("streets") or []}
    found |= {b["district"] for b in area.get("buildings") or []}
    return sorted(found)


def area_matches(area: Mapping[str, Any], *, district: str | None, street: str | None = None,
                 building: str | None = None) -> bool:
    """Is the address in the area? An unknown (None) street or building counts as "maybe": a notice for part
    of the district matches a location known only to the district."""
    if not district:
        return False
    district = _clean(district, 64)
    street = _clean(street) if street else None
    building = _clean(building, 32) if building else None
    if district in (area.get("districts") or []):
        return True
    for s in area.get("streets") or []:
        if s["district"] == district and (street is None or s["street"] == street):
            return True
    for b in area.get("buildings") or []:
        if b["district"] == district and (street is None or b["street"] == street) and (
            building is None or b["building"] == building
        ):
            return True
    return False


def area_clause(area: Mapping[str, Any]) -> ColumnElement[bool]:
    """The area as a condition on UtilityAccount's structured address."""
    conds: list[ColumnElement[bool]] = []
    if area.get("districts"):
        conds.append(UtilityAccount.district.in_(area["districts"]))
    for s in area.get("streets") or []:
        conds.append(and_(UtilityAccount.district == s["district"], UtilityAccount.street == s["street"]))
    for b in area.get("buildings") or []:
        conds.append(and_(UtilityAccount.district == b["district"], UtilityAccount.street == b["street"],
                          UtilityAccount.building == b["building"]))
    return or_(*conds) if conds else false()


def area_label(area: Mapping[str, Any], lang: str | None = None) -> str:
    """Human-readable area: districts, then streets, then buildings."""
    en = locale_of(lang) == "en"
    parts = list(area.get("districts") or [])
    parts += [f"{s['district']} {s['street']}" for s in area.get("streets") or []]
    for b in area.get("buildings") or []:
        parts.append(f"{b['district']} {b['street']} " + (f"bldg {b['building']}" if en
                                                          else f"{b['building']}号楼"))
    return ("; " if en else "；").join(parts)


async def known_addresses(session: AsyncSession) -> dict[str, dict[str, list[str]]]:
    """{district: {street: [buildings]}} of all accounts: what an operator can pick an area from."""
    rows = await session.execute(
        select(UtilityAccount.district, UtilityAccount.street, UtilityAccount.building).distinct()
    )
    out: dict[str, dict[str, set[str]]] = {}
    for d, s, b in rows:
        out.setdefault(d, {}).setdefault(s, set()).add(b)

    def key(b: str) -> tuple[int, str]:
        return (int(b), "") if b.isdigit() else (10**9, b)

    return {d: {s: sorted(bs, key=key) for s, bs in sorted(streets.items())} for d, streets in sorted(out.items())}


async def known_districts(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(UtilityAccount.district).distinct().order_by(UtilityAccount.district))
    return [d for (d,) in rows]


async def unmatched_area_entries(session: AsyncSession, area: Mapping[str, Any]) -> list[str]:
    """Area entries that match no account address: almost always a typo."""
    known = await known_addresses(session)
    bad = [d for d in area.get("districts") or [] if d not in known]
    bad += [f"{s['district']} {s['street']}" for s in area.get("streets") or []
            if s["street"] not in known.get(s["district"], {})]
    bad += [f"{b['district']} {b['street']} {b['building']}" for b in area.get("buildings") or []
            if b["building"] not in known.get(b["district"], {}).get(b["street"], [])]
    return bad

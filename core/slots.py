"""Home-visit capacity (R2): how many visits a district takes per time window, and what is still free.

A ``SlotCapacity`` row with ``day = NULL`` is the default for every working day; a row with a date
overrides it for that day (0 closes the window). Visits that hold a place: requested, proposed,
confirmed, completed and no-show; cancelled and refused ones free it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time as time_
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.clock import LOCAL_TZ, local
from core.context import AppContext
from core.tickets.places import forget_districts
from db.enums import AppointmentStatus
from db.models import Appointment, SlotCapacity, StaffUser
from db.session import database_key, dialect_name, rowcount

HORIZON_WORKING_DAYS = 14  # residents book among the next 14 working days
HOLDING = (AppointmentStatus.requested, AppointmentStatus.proposed, AppointmentStatus.confirmed,
           AppointmentStatus.completed, AppointmentStatus.no_show,
           AppointmentStatus.not_ignited)  # R19: the visit took place, so its place stays used
_WINDOW = re.compile(r"^([01]\d|2[0-3])-([01]\d|2[0-4])$")


def valid_window(window: str) -> bool:
    m = _WINDOW.match(window or "")
    return m is not None and int(m.group(1)) < int(m.group(2))


def window_start(day: date, window: str) -> datetime:
    """Local start of a visit window ("09-12" -> 09:00 that day)."""
    return datetime.combine(day, time(int(window[:2]), 0), tzinfo=LOCAL_TZ)


def window_end(day: date, window: str) -> datetime:
    hour = int(window[3:5])
    if hour == 24:
        return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=LOCAL_TZ)
    return datetime.combine(day, time(hour, 0), tzinfo=LOCAL_TZ)


def bookable_days(ctx: AppContext, now: datetime, horizon: int = HORIZON_WORKING_DAYS) -> list[date]:
    """The next ``horizon`` working days, starting tomorrow (a same-day visit cannot be answered in time)."""
    today = local(now).date()
    return [ctx.calendar.add_working_days(today, i) for i in range(1, horizon + 1)]


@dataclass(frozen=True)
class WindowFree:
    window: str
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True)
class DaySlots:
    day: date
    windows: tuple[WindowFree, ...]

    @property
    def free(self) -> int:
        return sum(w.free for w in self.windows)


async def capacities(session: AsyncSession, district: str, days: Iterable[date]) -> dict[tuple[date, str], int]:
    """Capacity of every (day, window) of ``district`` on ``days``: the day's override, else the default."""
    days = list(days)
    if not days:
        return {}
    rows = (await session.execute(
        select(SlotCapacity).where(SlotCapacity.district == district,
                                   (SlotCapacity.day.is_(None)) | (SlotCapacity.day.in_(days)))
    )).scalars().all()
    defaults = {r.window: r.capacity for r in rows if r.day is None}
    overrides = {(r.day, r.window): r.capacity for r in rows if r.day is not None}
    out: dict[tuple[date, str], int] = {}
    windows = sorted(set(defaults) | {w for (_, w) in overrides})
    for d in days:
        for w in windows:
            cap = overrides.get((d, w), defaults.get(w))
            if cap is not None:
                out[(d, w)] = cap
    return out


async def booked(session: AsyncSession, district: str, days: Iterable[date]) -> Counter[tuple[date, str]]:
    days = list(days)
    if not days:
        return Counter()
    rows = await session.execute(
        select(Appointment.day, Appointment.window, func.count())
        .where(Appointment.district == district, Appointment.day.in_(days), Appointment.status.in_(HOLDING))
        .group_by(Appointment.day, Appointment.window)
    )
    return Counter({(d, w): n for d, w, n in rows})


async def availability(session: AsyncSession, district: str, days: Iterable[date]) -> list[DaySlots]:
    days = list(days)
    caps = await capacities(session, district, days)
    taken = await booked(session, district, days)
    out = []
    for d in days:
        windows = tuple(WindowFree(w, cap, taken.get((d, w), 0)) for (dd, w), cap in sorted(caps.items()) if dd == d)
        out.append(DaySlots(d, windows))
    return out


async def available_days(
    session: AsyncSession, *, ctx: AppContext, district: str, now: datetime, horizon: int = HORIZON_WORKING_DAYS,
) -> list[DaySlots]:
    """Days among the next ``horizon`` working days with at least one free place (the calendar keyboard)."""
    return [d for d in await availability(session, district, bookable_days(ctx, now, horizon)) if d.free > 0]


async def free_windows(session: AsyncSession, *, district: str, day: date) -> list[WindowFree]:
    (slots,) = await availability(session, district, [day])
    return [w for w in slots.windows if w.free > 0]


async def free_places(session: AsyncSession, *, district: str, day: date, window: str) -> int:
    (slots,) = await availability(session, district, [day])
    return next((w.free for w in slots.windows if w.window == window), 0)


_DISTRICTS_TTL = 60.0
_districts_cache: dict[str, tuple[float, list[str]]] = {}


async def districts(session: AsyncSession) -> list[str]:
    """Districts that take home visits (those with a default capacity configured); cached for a minute and
    forgotten when staff change the capacity."""
    key = database_key(session)
    hit = _districts_cache.get(key)
    if hit is not None and hit[0] > time_.monotonic():
        return list(hit[1])
    rows = await session.execute(select(SlotCapacity.district).where(SlotCapacity.day.is_(None)).distinct())
    found = sorted(rows.scalars())
    _districts_cache[key] = (time_.monotonic() + _DISTRICTS_TTL, found)
    return list(found)


def _forget() -> None:
    _districts_cache.clear()
    forget_districts()


# --- holding a slot while it is booked ----------------------------------------------------------------------

_sqlite_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def slot_lock(session: AsyncSession, district: str, day: date, window: str) -> AsyncIterator[None]:
    """Serialise bookings of one slot so the last place is never given twice.

    PostgreSQL: a transaction-scoped advisory lock (released by the caller's commit/rollback).
    SQLite: the deployment is one process, so an in-process lock is enough.
    """
    if dialect_name(session) == "postgresql":
        digest = hashlib.sha256(f"slot|{district}|{day.isoformat()}|{window}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        yield
        return
    loop = asyncio.get_running_loop()
    lock = _sqlite_locks.get(loop)
    if lock is None:
        lock = _sqlite_locks[loop] = asyncio.Lock()
    async with lock:
        yield


# --- staff configuration ------------------------------------------------------------------------------------


class CapacityError(ValueError):
    pass


async def list_capacity(session: AsyncSession, *, district: str | None = None,
                        from_day: date | None = None) -> list[SlotCapacity]:
    query = select(SlotCapacity)
    if district:
        query = query.where(SlotCapacity.district == district)
    if from_day:
        query = query.where(SlotCapacity.day.is_(None) | (SlotCapacity.day >= from_day))
    query = query.order_by(SlotCapacity.district, SlotCapacity.day.is_not(None), SlotCapacity.day,
                           SlotCapacity.window)
    return list((await session.execute(query)).scalars())


async def set_capacity(
    session: AsyncSession, *, ctx: AppContext, staff: StaffUser | None, district: str, window: str, capacity: int,
    day: date | None = None,
) -> SlotCapacity:
    """Set the default (``day=None``) or one day's capacity of a district's window; commits."""
    district = (district or "").strip()
    if not district or len(district) > 64:
        raise CapacityError("district is required")
    if not valid_window(window):
        raise CapacityError("window must look like 09-12")
    if not 0 <= int(capacity) <= 1000:
        raise CapacityError("capacity must be between 0 and 1000")
    query = select(SlotCapacity).where(SlotCapacity.district == district, SlotCapacity.window == window,
                                       SlotCapacity.day.is_(None) if day is None else SlotCapacity.day == day)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        row = SlotCapacity(district=district, window=window, day=day, capacity=int(capacity))
        session.add(row)
    else:
        row.capacity = int(capacity)
    audit.record(session, at=ctx.clock.now(), staff_id=staff.id if staff else None, action="slots.capacity",
                 target_type="slot", target_id=f"{district}/{window}/{day or 'default'}", capacity=int(capacity))
    await session.commit()
    _forget()
    return row


async def remove_override(session: AsyncSession, *, ctx: AppContext, staff: StaffUser | None, district: str,
                          window: str, day: date) -> bool:
    res = await session.execute(delete(SlotCapacity).where(SlotCapacity.district == district,
                                                           SlotCapacity.window == window, SlotCapacity.day == day))
    audit.record(session, at=ctx.clock.now(), staff_id=staff.id if staff else None, action="slots.override_removed",
                 target_type="slot", target_id=f"{district}/{window}/{day}")
    await session.commit()
    _forget()
    return bool(rowcount(res))

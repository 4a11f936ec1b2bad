"""Human-readable reference numbers a person can read aloud: BX-20261123-0042."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import local
from db.models import Counter


async def next_number(session: AsyncSession, prefix: str, now: datetime) -> str:
    """Allocate the next number of the day for ``prefix`` inside the caller's transaction."""
    day = local(now).strftime("%Y%m%d")
    name = f"{prefix}-{day}"
    # UPDATE first: it takes the row lock on PostgreSQL so concurrent callers serialise.
    res = await session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    value = res.scalar_one_or_none()
    if value is None:
        try:
            async with session.begin_nested():
                session.add(Counter(name=name, value=1))
            value = 1
        except IntegrityError:  # another transaction created today's counter first
            res = await session.execute(
                update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
            )
            value = res.scalar_one()
    return f"{name}-{value:04d}"


async def peek(session: AsyncSession, name: str) -> int:
    return (await session.execute(select(Counter.value).where(Counter.name == name))).scalar_one_or_none() or 0

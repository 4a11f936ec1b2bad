"""Fixtures for the accounts feature: the demo utility loaded, and helpers to find its personas' accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.demo import PERSONAS, load_demo
from db.models import Resident, UtilityAccount
from tests.api.conftest import app, client, staff_users  # noqa: F401  (console/API fixtures)

WANG, LINA, ZHANG = (p.user_id for p in PERSONAS)


@pytest.fixture
async def demo(ctx):
    """The demo utility: 60 accounts with 12 months of history; Wang and Zhang linked, Li Na new."""
    async with ctx.sessionmaker() as session:
        await load_demo(session, now=ctx.clock.now())
        # Li Na has not chosen a language in the demo; tests speak English with her.
        (await session.get(Resident, LINA)).language = "en"
        await session.commit()
    return ctx


async def account_of(session, *, phone: str, utility: str) -> UtilityAccount:
    q = select(UtilityAccount).where(UtilityAccount.phone == phone, UtilityAccount.utility == utility)
    return (await session.execute(q)).scalars().first()


async def lina_water(session) -> UtilityAccount:
    """The water account whose phone on file is Li Na's (she links it herself in the demo)."""
    return await account_of(session, phone="13800000002", utility="water")

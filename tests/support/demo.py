"""The demo utility's personas and small look-ups on its data."""

from __future__ import annotations

from sqlalchemy import select

from core.demo import PERSONAS
from db.models import OutboxNotification, Resident, UtilityAccount

# 王建国: linked gas + water accounts in 城东区; Li Na: new, no linked account; 张奶奶: simple (guided) mode,
# Chinese, linked gas account in 城南区.
WANG, LINA, ZHANG = (p.user_id for p in PERSONAS)
GRANNY = ZHANG


async def account_of(session, *, phone: str, utility: str) -> UtilityAccount:
    q = select(UtilityAccount).where(UtilityAccount.phone == phone, UtilityAccount.utility == utility)
    return (await session.execute(q)).scalars().first()


async def lina_water(session) -> UtilityAccount:
    """The water account whose phone on file is Li Na's (she links it herself in the demo)."""
    return await account_of(session, phone="13800000002", utility="water")


async def set_language(ctx, user_id: int, lang: str) -> None:
    async with ctx.sessionmaker() as session:
        resident = await session.get(Resident, user_id)
        resident.language = lang
        await session.commit()


async def outbox_rows(ctx, resident_id: int | None = None) -> list[OutboxNotification]:
    async with ctx.sessionmaker() as session:
        q = select(OutboxNotification).order_by(OutboxNotification.id)
        if resident_id is not None:
            q = q.where(OutboxNotification.resident_id == resident_id)
        return list((await session.execute(q)).scalars())

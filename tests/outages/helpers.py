"""Helpers for sender tests: many residents, one broadcast, and a sender context on a real clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from core import broadcasts, outbox
from core.clock import SystemClock
from core.context import AppContext
from db.models import Resident
from tests.conftest import make_ctx, make_settings

FIRST_CHAT = 700_000


async def seed_broadcast(ctx: AppContext, n: int, *, now: datetime | None = None, first: int = FIRST_CHAT) -> int:
    """``n`` residents and one broadcast to all of them; returns the broadcast id."""
    now = now or ctx.clock.now()
    ids = list(range(first, first + n))
    async with ctx.sessionmaker() as session:
        await session.execute(insert(Resident), [
            {"id": rid, "first_name": "r", "language": "zh_Hans" if rid % 3 else "en", "guided_mode": False,
             "blocked": False, "link_failures": 0, "misses": 0, "created_at": now} for rid in ids
        ])
        bc = await broadcasts.fan_out(
            session, title="test", kind="test", recipients=[(rid, "zh_Hans" if rid % 3 else "en") for rid in ids],
            payloads={"zh_Hans": outbox.message_payload("停水通知"), "en": outbox.message_payload("Water notice")},
            now=now, staff_id=None, dedupe_prefix="test",
        )
        await session.commit()
        return bc.id


async def real_clock_ctx(database_url: str, **sender: object) -> AppContext:
    """A context whose clock moves (retries and leases need time to pass), on the given database."""
    from core.settings import SenderSettings

    settings = make_settings(database_url)
    settings.sender = SenderSettings(**{"rate_per_second": 200.0, **sender})
    return await make_ctx(settings, SystemClock())  # type: ignore[arg-type]

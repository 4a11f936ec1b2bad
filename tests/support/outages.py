"""Helpers for outage notices, broadcasts and the sender: a small town with structured addresses and residents,
many residents with one broadcast, and a sender context on a real clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert

from core import account_numbers, broadcasts, outbox
from core.clock import SystemClock
from core.context import AppContext
from db.enums import AccountState, LinkMethod, MeterType, StaffRole, Utility
from db.models import AccountLink, DistrictSubscription, Resident, StaffUser, UtilityAccount
from tests.support.context import make_ctx, make_settings

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


@dataclass
class Town:
    accounts: dict[str, UtilityAccount] = field(default_factory=dict)
    staff: dict[StaffRole, StaffUser] = field(default_factory=dict)


_serial = iter(range(5000, 10**6))


def account(district: str, street: str, building: str, utility: Utility = Utility.water, now=None) -> UtilityAccount:
    number = account_numbers.make(utility, next(_serial))
    return UtilityAccount(number=number, utility=utility, holder_name="测试", district=district, street=street,
                          building=building, meter_type=MeterType.ordinary, state=AccountState.connected,
                          household_size=4, created_at=now, updated_at=now)


async def build_town(session, now) -> Town:
    """Residents (id: who):
    1 zh, water account at 城东区 人民路 1 and gas account at 城东区 人民路 1 (two accounts, one message)
    2 en, account at 城东区 东风街 5
    3 zh, account at 城西区 建设路 7 (outside a 城东区 notice)
    4 en, no account, subscribed to 城东区
    5 zh, account at 城东区 人民路 2, has blocked the bot
    6 None (language not chosen), account at 城东区 人民路 1
    """
    town = Town()
    specs = {
        "e1w": ("城东区", "人民路", "1", Utility.water), "e1g": ("城东区", "人民路", "1", Utility.gas),
        "e5": ("城东区", "东风街", "5", Utility.power), "w7": ("城西区", "建设路", "7", Utility.water),
        "e2": ("城东区", "人民路", "2", Utility.water), "e1b": ("城东区", "人民路", "1", Utility.power),
        "s3": ("城南区", "南山路", "3", Utility.water),
    }
    for key, (d, s, b, u) in specs.items():
        town.accounts[key] = account(d, s, b, u, now)
    session.add_all(town.accounts.values())
    langs = {1: "zh_Hans", 2: "en", 3: "zh_Hans", 4: "en", 5: "zh_Hans", 6: None}
    for rid, lang in langs.items():
        session.add(Resident(id=rid, first_name=f"r{rid}", language=lang, guided_mode=False, blocked=rid == 5,
                             link_failures=0, misses=0, created_at=now))
    await session.flush()
    for rid, key in ((1, "e1w"), (1, "e1g"), (2, "e5"), (3, "w7"), (5, "e2"), (6, "e1b")):
        session.add(AccountLink(resident_id=rid, account_id=town.accounts[key].id, verified_at=now,
                                method=LinkMethod.staff, relation="self", alerts_enabled=False))
    session.add(DistrictSubscription(resident_id=4, district="城东区", created_at=now))
    from core import staff as staff_service

    for role in StaffRole:
        town.staff[role] = await staff_service.create_staff(session, username=f"t-{role.value}",
                                                            display_name=role.value, role=role,
                                                            password="x" * 12, now=now)
    await session.commit()
    return town

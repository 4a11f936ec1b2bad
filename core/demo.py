"""Demo data for the sandbox: a small utility with 4 districts and ~60 accounts.

Deterministic (seeded) so screenshots and walkthroughs are reproducible; staff passwords are
random and printed once. Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import account_numbers, keys, staff
from core.clock import LOCAL_TZ
from db.enums import AccountState, LedgerKind, LinkMethod, MeterType, StaffRole, Utility
from db.models import AccountLink, LedgerEntry, MeterReading, Resident, SlotCapacity, StaffUser, UtilityAccount

DISTRICTS = ["城东区", "城西区", "城南区", "城北区"]
STREETS = {
    "城东区": ["人民路", "东风街"],
    "城西区": ["建设路", "西湖路"],
    "城南区": ["南山路", "和平街"],
    "城北区": ["北辰路", "光明街"],
}
WINDOWS = ["09-12", "14-17"]
# fen per unit (m³ or kWh) used to bill demo consumption
DEMO_PRICE_FEN = {Utility.gas: 280, Utility.water: 341, Utility.power: 56}
MONTHLY_USAGE = {Utility.gas: (8, 30), Utility.water: (6, 22), Utility.power: (120, 420)}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "海燕", "明", "静", "伟", "芳", "军", "丽", "强", "磊", "洋", "艳"]


@dataclass(frozen=True)
class DemoPersona:
    user_id: int
    first_name: str
    phone: str  # as on file: 11 digits
    language: str | None
    guided: bool
    linked: bool


PERSONAS = [
    DemoPersona(10001, "王建国", "13800000001", "zh_Hans", False, True),
    DemoPersona(10002, "Li Na", "13800000002", None, False, False),  # new: links by sharing her contact
    DemoPersona(10003, "张奶奶", "13800000003", "zh_Hans", True, True),
]


def bill_code(number: str) -> str:
    """Demo verification code printed on a bill (6 digits, derived so the demo is reproducible)."""
    return str(int(hashlib.sha256(f"demo-bill:{number}".encode()).hexdigest(), 16) % 1_000_000).zfill(6)


def hash_bill_code(code: str) -> str:
    return keys.hash_bill_code(code)  # HMAC keyed by the secret key (issue 12 F9)


@dataclass
class DemoResult:
    created: bool
    staff_passwords: dict[str, str]
    sample_accounts: list[tuple[str, str, str, str]]  # number, utility, holder, bill code


async def load_demo(session: AsyncSession, *, now: datetime) -> DemoResult:
    if (await session.execute(select(func.count()).select_from(UtilityAccount))).scalar_one():
        return DemoResult(False, {}, [])
    rng = random.Random(20261123)
    accounts: list[UtilityAccount] = []
    serial = 1000
    for i in range(60):
        utility = (Utility.gas, Utility.water, Utility.power)[i % 3]
        district = DISTRICTS[i % 4]
        serial += 1
        number = account_numbers.make(utility, serial)
        if utility is Utility.gas:
            meter = MeterType.ic_card if i % 2 == 0 else MeterType.smart
        elif utility is Utility.power:
            meter = MeterType.smart
        else:
            meter = MeterType.ordinary if i % 4 else MeterType.smart
        state = AccountState.connected
        if i in (7, 19):
            state = AccountState.suspended
        if i == 31:
            state = AccountState.sealed
        acc = UtilityAccount(
            number=number, external_id=f"DEMO-{number}", utility=utility,
            holder_name=rng.choice(SURNAMES) + rng.choice(GIVEN), district=district,
            street=rng.choice(STREETS[district]), building=str(rng.randint(1, 30)), unit=str(rng.randint(1, 4)),
            room=f"{rng.randint(1, 18)}0{rng.randint(1, 4)}", phone=f"139{rng.randint(10000000, 99999999)}",
            bill_code_hash=hash_bill_code(bill_code(number)), meter_type=meter, state=state,
            household_size=rng.choice([2, 3, 4, 4, 5, 6]), created_at=now, updated_at=now,
        )
        accounts.append(acc)
    # The sandbox personas own specific accounts (their phones are on file).
    accounts[0].phone = PERSONAS[0].phone  # gas, IC card, 城东区
    accounts[1].phone = PERSONAS[0].phone  # water
    accounts[4].phone = PERSONAS[1].phone  # water, 城东区 (Li Na links it herself)
    accounts[6].phone = PERSONAS[2].phone  # gas, IC card, 城南区
    accounts[0].holder_name, accounts[1].holder_name = "王建国", "王建国"
    accounts[4].holder_name, accounts[6].holder_name = "李娜", "张桂兰"
    session.add_all(accounts)
    await session.flush()
    for idx, acc in enumerate(accounts):
        _history(session, acc, rng, now, arrears=(acc.meter_type is MeterType.ordinary and idx % 3 == 1))
    for p in PERSONAS:
        session.add(Resident(id=p.user_id, first_name=p.first_name, language=p.language, guided_mode=p.guided,
                             blocked=False, link_failures=0, misses=0, created_at=now))
    await session.flush()
    links = {10001: [accounts[0], accounts[1]], 10003: [accounts[6]]}
    for rid, accs in links.items():
        for acc in accs:
            session.add(AccountLink(resident_id=rid, account_id=acc.id, verified_at=now, method=LinkMethod.contact,
                                    relation="self", alerts_enabled=True))
    for d in DISTRICTS:
        for w in WINDOWS:
            session.add(SlotCapacity(district=d, window=w, day=None, capacity=4))
    passwords = {}
    for role in StaffRole:
        existing = (await session.execute(
            select(func.count()).select_from(StaffUser).where(StaffUser.username == f"demo-{role.value}")
        )).scalar_one()
        if existing:
            continue
        pw = staff.new_password()
        await staff.create_staff(session, username=f"demo-{role.value}", display_name=f"Demo {role.value}",
                                 role=role, password=pw, now=now)
        passwords[f"demo-{role.value}"] = pw
    await session.commit()
    sample = [(a.number, a.utility.value, a.holder_name, bill_code(a.number)) for a in accounts[:6]]
    return DemoResult(True, passwords, sample)


def _history(session: AsyncSession, acc: UtilityAccount, rng: random.Random, now: datetime, *, arrears: bool) -> None:
    """12 months of readings and charges; prepaid meters are topped up ahead, others pay after the bill."""
    lo, hi = MONTHLY_USAGE[acc.utility]
    price = DEMO_PRICE_FEN[acc.utility]
    today = now.astimezone(LOCAL_TZ).date()
    value = rng.randint(100, 3000) * 1000
    prepaid = acc.meter_type in (MeterType.ic_card, MeterType.smart)
    first = _month_start(today, 12)
    if prepaid:
        session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=rng.choice([30000, 50000]),
                                posted_at=_at(first), description="预存 Prepayment", source="billing"))
    for m in range(12, 0, -1):
        month = _month_start(today, m)
        read_on = month.replace(day=15)
        usage = rng.randint(lo, hi) * 1000 + rng.randint(0, 999)
        value += usage
        session.add(MeterReading(account_id=acc.id, read_on=read_on, value_milli=value, usage_milli=usage,
                                 source="billing"))
        amount = usage * price // 1000
        session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.charge, amount_fen=-amount, posted_at=_at(read_on),
                                period=read_on.strftime("%Y-%m"), quantity_milli=usage, source="billing",
                                description="月度费用 Monthly charge"))
        if prepaid:
            if m % 3 == 0:
                session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=amount * 3,
                                        posted_at=_at(read_on + timedelta(days=3)), source="billing",
                                        description="预存 Prepayment"))
        elif not (arrears and m <= 2):
            session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=amount,
                                    posted_at=_at(read_on + timedelta(days=rng.randint(3, 12))), source="billing",
                                    description="缴费 Payment"))


def _month_start(today: date, months_back: int) -> date:
    y, m = today.year, today.month - months_back
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1)


def _at(d: date) -> datetime:
    return datetime.combine(d, time(10, 0), tzinfo=LOCAL_TZ)

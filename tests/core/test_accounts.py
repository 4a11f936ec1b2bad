"""core.accounts and core.ledger: linking with proof (R15, R16), lock-out, summaries from the ledger, payments once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import accounts, ledger
from core.accounts import LinkStatus
from core.clock import LOCAL_TZ
from core.demo import bill_code
from db.enums import AccountState, LedgerKind, LinkMethod, MeterType, Utility
from db.models import AccountLink, AuditLog, LedgerEntry, MeterReading, Resident, UtilityAccount
from tests.support.demo import LINA, WANG, lina_water


def test_mask_name_and_formatting() -> None:
    assert accounts.mask_name("王建国") == "王*国"
    assert accounts.mask_name("李娜") == "李*"
    assert accounts.mask_name("欧阳小明") == "欧**明"
    assert accounts.mask_name("Li Na") == "L* N*"
    assert accounts.mask_name("") == "*"
    assert ledger.format_fen(123450, "zh_Hans") == "¥1,234.50"
    assert ledger.format_fen(123450, "en") == "¥1,234.50"
    assert ledger.format_fen(-5140, "en") == "-¥51.40"
    assert accounts.format_day(date(2026, 11, 23), "zh_Hans") == "2026年11月23日"
    assert accounts.format_day(date(2026, 11, 23), "en") == "November 23, 2026"
    # datetimes are shown as the local (China) date
    assert accounts.format_day(datetime(2026, 11, 22, 17, 0, tzinfo=LOCAL_TZ).astimezone(LOCAL_TZ).replace(
        hour=23), "en") == "November 22, 2026"


async def test_linked_accounts_contract(demo_town_en, session) -> None:
    wang = await accounts.linked_accounts(session, WANG)
    assert [a.utility for a in wang] == [Utility.gas, Utility.water]
    assert await accounts.linked_accounts(session, LINA) == []


async def test_summary_is_computed_from_the_ledger(demo_town_en, session) -> None:
    account = (await accounts.linked_accounts(session, WANG))[0]
    now = demo_town_en.clock.now()
    total = (await session.execute(select(func.sum(LedgerEntry.amount_fen))
                                   .where(LedgerEntry.account_id == account.id))).scalar_one()
    s = await accounts.account_summary(session, account, now=now)
    assert s.balance_fen == total == await ledger.balance_fen(session, account.id)
    assert s.holder_masked == "王*国" and s.meter_type is MeterType.ic_card and s.prepaid
    assert len(s.months) == 12 and s.months[-1].month == date(2026, 11, 1)
    assert s.last_reading_on == date(2026, 10, 15) and s.last_usage_milli > 0
    assert s.avg_daily_use_milli and s.avg_daily_cost_fen
    assert s.days_left == int(s.balance_fen // s.avg_daily_cost_fen)

    # A new charge lowers the balance at once: nothing is stored that could disagree.
    session.add(LedgerEntry(account_id=account.id, kind=LedgerKind.charge, amount_fen=-10_000, posted_at=now,
                            source="staff"))
    await session.commit()
    after = await accounts.account_summary(session, account, now=now)
    assert after.balance_fen == s.balance_fen - 10_000
    assert after.days_left < s.days_left


async def test_days_left_from_known_history(ctx, session) -> None:
    """¥30 a month for a year and ¥90 of credit left: about 90 days; under 7 days is low credit."""
    now = ctx.clock.now()
    acc = UtilityAccount(number="1000000018", utility=Utility.gas, holder_name="测试户", district="城东区",
                         street="人民路", building="1", meter_type=MeterType.smart, state=AccountState.connected,
                         household_size=4, created_at=now, updated_at=now)
    session.add(acc)
    await session.flush()
    session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=45_000,
                            posted_at=now - timedelta(days=400), source="billing"))
    for k in range(12):  # one ¥30 charge every 30 days
        session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.charge, amount_fen=-3_000,
                                posted_at=now - timedelta(days=30 * k + 1), source="billing"))
    await session.commit()
    s = await accounts.account_summary(session, acc, now=now)
    assert s.balance_fen == 9_000
    assert s.avg_daily_cost_fen == pytest.approx(100, rel=0.01)
    assert 88 <= s.days_left <= 90
    assert not s.low_credit
    session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.charge, amount_fen=-8_500, posted_at=now,
                            source="billing"))
    await session.commit()
    low = await accounts.account_summary(session, acc, now=now)
    assert low.days_left < 7 and low.low_credit


async def test_no_history_means_no_estimate(ctx, session) -> None:
    now = ctx.clock.now()
    acc = UtilityAccount(number="3000000014", utility=Utility.power, holder_name="Bob", district="城东区",
                         street="人民路", building="1", meter_type=MeterType.smart, state=AccountState.registered,
                         household_size=4, created_at=now, updated_at=now)
    session.add(acc)
    await session.commit()
    s = await accounts.account_summary(session, acc, now=now)
    assert s.balance_fen == 0 and s.days_left == 0 and s.last_payment_at is None and s.avg_daily_use_milli is None
    session.add(LedgerEntry(account_id=acc.id, kind=LedgerKind.payment, amount_fen=5_000, posted_at=now,
                            source="billing"))
    session.add(MeterReading(account_id=acc.id, read_on=date(2026, 11, 1), value_milli=1_000_000,
                             usage_milli=300_000, source="billing"))
    await session.commit()
    s = await accounts.account_summary(session, acc, now=now)
    # one reading, no charge yet: spending is estimated from use × the unit price in tariffs.yaml
    assert s.avg_daily_use_milli == pytest.approx(10_000)
    assert s.avg_daily_cost_fen == pytest.approx(560)  # 10 kWh × ¥0.56
    assert s.days_left == 8


async def test_link_by_own_phone(demo_town_en, session) -> None:
    lina = await session.get(Resident, LINA)
    water = await lina_water(session)
    now = demo_town_en.clock.now()
    result = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                            proof="+86 138-0000-0002", now=now)
    assert result.status is LinkStatus.linked and result.link.account_id == water.id
    assert [a.id for a in await accounts.linked_accounts(session, LINA)] == [water.id]
    again = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                           proof="13800000002", now=now)
    assert again.status is LinkStatus.already_linked
    audit = (await session.execute(select(AuditLog).where(AuditLog.action == "account.link"))).scalars().all()
    assert len(audit) == 1 and "13800000002" not in str(audit[0].detail)


async def test_link_by_bill_code_for_a_relative(demo_town_en, session) -> None:
    """R16: Li Na helps with Wang's gas account using the code printed on his bill."""
    lina = await session.get(Resident, LINA)
    gas = (await accounts.linked_accounts(session, WANG))[0]
    result = await accounts.verify_and_link(session, resident=lina, number=gas.number, method=LinkMethod.bill_code,
                                            proof=bill_code(gas.number), now=demo_town_en.clock.now(),
                                            relation="relative")
    assert result.status is LinkStatus.linked and result.link.relation == "relative"
    with pytest.raises(ValueError):
        await accounts.verify_and_link(session, resident=lina, number=gas.number, method=LinkMethod.bill_code,
                                       proof="000000", now=demo_town_en.clock.now(), relation="neighbour")


async def test_unknown_number_and_wrong_proof_look_the_same_and_five_lock_for_an_hour(demo_town_en, session) -> None:
    lina = await session.get(Resident, LINA)
    water = await lina_water(session)
    now = demo_town_en.clock.now()
    unknown = await accounts.verify_and_link(session, resident=lina, number="2999999990", method=LinkMethod.contact,
                                             proof="13800000002", now=now)
    wrong = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.bill_code,
                                           proof="000000", now=now)
    assert unknown.status is wrong.status is LinkStatus.not_verified
    assert (unknown.attempts_left, wrong.attempts_left) == (4, 3)
    for _ in range(2):
        await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                       proof="13900000000", now=now)
    fifth = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                           proof="13900000000", now=now)
    assert fifth.status is LinkStatus.locked and fifth.locked_until == now + timedelta(hours=1)
    # Locked: even the right proof is refused, and nothing is linked.
    right = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                           proof="13800000002", now=now + timedelta(minutes=59))
    assert right.status is LinkStatus.locked
    assert await accounts.linked_accounts(session, LINA) == []
    later = await accounts.verify_and_link(session, resident=lina, number=water.number, method=LinkMethod.contact,
                                           proof="13800000002", now=now + timedelta(hours=1, seconds=1))
    assert later.status is LinkStatus.linked
    session.expire_all()
    lina = await session.get(Resident, LINA)
    assert lina.link_failures == 0 and lina.link_locked_until is None


async def test_unlink_and_alerts(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    link = await accounts.set_alerts(session, resident_id=WANG, account_id=gas.id, enabled=False)
    assert link is not None and link.alerts_enabled is False
    assert await accounts.set_alerts(session, resident_id=LINA, account_id=gas.id, enabled=True) is None
    assert await accounts.unlink(session, resident_id=LINA, account_id=gas.id, now=demo_town_en.clock.now()) is False
    assert await accounts.unlink(session, resident_id=WANG, account_id=gas.id, now=demo_town_en.clock.now()) is True
    assert (await session.execute(select(func.count()).select_from(AccountLink)
                                  .where(AccountLink.resident_id == WANG))).scalar_one() == 1
    # the account and its ledger stay: unlinking only removes the resident's access
    assert await session.get(UtilityAccount, gas.id) is not None


async def test_topup_checks(demo_town_en, session) -> None:
    gas, water = await accounts.linked_accounts(session, WANG)
    ok = await accounts.check_topup(session, resident_id=WANG, account_id=gas.id, amount_fen=10_000)
    assert ok.ok and (ok.min_fen, ok.max_fen) == (5_000, 500_000)
    assert (await accounts.check_topup(session, resident_id=WANG, account_id=gas.id, amount_fen=4_999)).problem \
        is accounts.TopupProblem.below_min
    assert (await accounts.check_topup(session, resident_id=WANG, account_id=gas.id, amount_fen=500_001)).problem \
        is accounts.TopupProblem.above_max
    assert (await accounts.check_topup(session, resident_id=LINA, account_id=gas.id, amount_fen=10_000)).problem \
        is accounts.TopupProblem.not_linked
    # In arrears: paying exactly the arrears is allowed even below the minimum.
    owed = -(await ledger.balance_fen(session, water.id))
    session.add(LedgerEntry(account_id=water.id, kind=LedgerKind.payment, amount_fen=owed - 2_000,
                            posted_at=demo_town_en.clock.now(), source="billing"))
    await session.commit()
    arrears = -(await ledger.balance_fen(session, water.id))
    assert arrears == 2_000
    assert (await accounts.check_topup(session, resident_id=WANG, account_id=water.id, amount_fen=1_999)).problem \
        is accounts.TopupProblem.below_min
    assert (await accounts.check_topup(session, resident_id=WANG, account_id=water.id, amount_fen=arrears)).ok
    water.state = AccountState.dismantled
    await session.commit()
    assert (await accounts.check_topup(session, resident_id=WANG, account_id=water.id, amount_fen=10_000)).problem \
        is accounts.TopupProblem.closed


async def test_telegram_payment_is_recorded_once(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    before = await ledger.balance_fen(session, gas.id)
    now = demo_town_en.clock.now()
    first = await ledger.record_telegram_payment(session, account_id=gas.id, amount_fen=10_000, charge_id="tg-1",
                                                 now=now)
    replay = await ledger.record_telegram_payment(session, account_id=gas.id, amount_fen=10_000, charge_id="tg-1",
                                                  now=now)
    assert first.created and not replay.created and replay.entry.id == first.entry.id
    assert first.receipt.startswith("CZ-20261123-")
    assert await ledger.balance_fen(session, gas.id) == before + 10_000
    with pytest.raises(ValueError):
        await ledger.record_telegram_payment(session, account_id=gas.id, amount_fen=0, charge_id="tg-2", now=now)


async def test_arrears_since(demo_town_en, session) -> None:
    water = (await accounts.linked_accounts(session, WANG))[1]
    since = await ledger.arrears_since(session, water.id)
    assert since is not None and since.astimezone(LOCAL_TZ).date() == date(2026, 9, 15)
    gas = (await accounts.linked_accounts(session, WANG))[0]
    assert await ledger.arrears_since(session, gas.id) is None

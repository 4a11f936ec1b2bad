"""Accounts on a real PostgreSQL: the summary's one-query ledger totals, racing payment deliveries, the
all-or-nothing import, and concurrent alert runs — where SQLite and PostgreSQL behave differently."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core import accounts, alerts, billing, ledger
from core.demo import load_demo
from db.enums import LedgerKind
from db.models import AlertLog, LedgerEntry
from tests.support.demo import WANG

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_demo(pg_ctx):
    async with pg_ctx.sessionmaker() as session:
        await load_demo(session, now=pg_ctx.clock.now())
    return pg_ctx


async def test_summary_matches_the_ledger(pg_demo) -> None:
    ctx = pg_demo
    now = ctx.clock.now()
    async with ctx.sessionmaker() as session:
        gas = (await accounts.linked_accounts(session, WANG))[0]
        summary = await accounts.account_summary(session, gas, now=now)
        entries = list((await session.execute(select(LedgerEntry).where(LedgerEntry.account_id == gas.id)))
                       .scalars())
    assert summary.balance_fen == sum(e.amount_fen for e in entries)
    last = max((e for e in entries if e.kind is LedgerKind.payment), key=lambda e: (e.posted_at, e.id))
    assert (summary.last_payment_fen, summary.last_payment_at) == (last.amount_fen, last.posted_at)
    assert summary.last_payment_at.tzinfo is not None
    assert summary.days_left is not None and summary.days_left > 0 and len(summary.months) == 12


async def test_racing_deliveries_of_one_payment_are_recorded_once(pg_demo) -> None:
    ctx = pg_demo
    async with ctx.sessionmaker() as session:
        gas = (await accounts.linked_accounts(session, WANG))[0]
        before = await ledger.balance_fen(session, gas.id)

    async def deliver() -> tuple[int, bool]:
        async with ctx.sessionmaker() as session:
            rec = await ledger.record_telegram_payment(session, account_id=gas.id, amount_fen=10000,
                                                       charge_id="tg-race-1", now=ctx.clock.now())
            return rec.entry.id, rec.created

    results = await asyncio.gather(*(deliver() for _ in range(6)))
    assert len({entry_id for entry_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with ctx.sessionmaker() as session:
        assert await ledger.balance_fen(session, gas.id) == before + 10000


async def test_import_with_a_bad_row_changes_nothing(pg_demo) -> None:
    ctx = pg_demo
    from tests.api.test_billing import GOOD, NEW

    bad = GOOD + f"charge,B-C-9,{NEW},,,,,,,,,,,,,2026-10-15,,,abc,,,\n"
    async with ctx.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        report = await billing.import_csv(session, bad.encode(), now=ctx.clock.now())
        assert not report.ok and [e.line for e in report.errors] == [7]
        assert (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == count
        assert await accounts.account_by_number(session, NEW) is None
        report = await billing.import_csv(session, GOOD.encode(), now=ctx.clock.now())
        assert report.ok and report.applied
        again = await billing.import_csv(session, GOOD.encode(), now=ctx.clock.now())
        assert again.ok and sum(again.created.values()) == 0 and sum(again.updated.values()) == 5
        new = await accounts.account_by_number(session, NEW)
        assert await ledger.balance_fen(session, new.id) == -5740 + 10000 - 550


async def test_two_alert_runs_at_once_send_once(pg_demo) -> None:
    ctx = pg_demo
    now = ctx.clock.now()
    async with ctx.sessionmaker() as session:
        gas = (await accounts.linked_accounts(session, WANG))[0]
        balance = await ledger.balance_fen(session, gas.id)
        session.add(LedgerEntry(account_id=gas.id, kind=LedgerKind.charge, amount_fen=-(balance - 1000),
                                posted_at=now, source="billing"))
        await session.commit()
    runs = await asyncio.gather(alerts.run_alerts(ctx), alerts.run_alerts(ctx))
    assert sum(r.low_credit for r in runs) >= 1
    async with ctx.sessionmaker() as session:
        q = select(func.count()).select_from(AlertLog).where(AlertLog.account_id == gas.id,
                                                             AlertLog.kind == alerts.LOW_CREDIT)
        assert (await session.execute(q)).scalar_one() == 1

"""Opt-in alerts through the outbox: low credit, the R11 arrears notice, at most once a day, never at night."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.routers.accounts import AccountAction, AccountCallback
from bot.routers.topup import TopupAction, TopupCallback
from core import accounts, alerts, scheduler
from core.clock import LOCAL_TZ
from db.enums import AccountState, LedgerKind
from db.models import AccountLink, AlertLog, LedgerEntry, OutboxNotification, Resident
from tests.support.demo import WANG, ZHANG


async def _outbox(session, kind: str | None = None) -> list[OutboxNotification]:
    q = select(OutboxNotification).order_by(OutboxNotification.id)
    if kind:
        q = q.where(OutboxNotification.kind == kind)
    return list((await session.execute(q)).scalars())


async def _drain_credit(session, account_id: int, *, leave_fen: int, now) -> None:
    """Post a charge so the account keeps only ``leave_fen`` of credit."""
    from core import ledger

    balance = await ledger.balance_fen(session, account_id)
    session.add(LedgerEntry(account_id=account_id, kind=LedgerKind.charge, amount_fen=-(balance - leave_fen),
                            posted_at=now - timedelta(days=1), source="billing"))
    await session.commit()


def test_alert_buttons_are_the_bots_callbacks() -> None:
    assert alerts.VIEW_CALLBACK.format(account_id=42) == AccountCallback(action=AccountAction.view,
                                                                         account_id=42).pack()
    assert alerts.TOPUP_CALLBACK.format(account_id=42) == TopupCallback(action=TopupAction.start,
                                                                        account_id=42).pack()


def test_the_job_is_scheduled() -> None:
    assert "account-alerts" in [job.name for job in scheduler.default_jobs()]


async def test_low_credit_alert_once_a_day_in_the_residents_language(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]  # IC-card gas, alerts on in the demo
    now = demo_town_en.clock.now()
    await _drain_credit(session, gas.id, leave_fen=1_500, now=now)
    run = await alerts.run_alerts(demo_town_en)
    assert run.low_credit >= 1
    rows = [r for r in await _outbox(session, "alert.low_credit") if r.resident_id == WANG]
    assert len(rows) == 1
    text = rows[0].payload["text"]
    assert gas.number in text and "¥15.00" in text and "余额不足" in text
    assert "IC卡" in text and "营业厅" in text  # R1: where to load the credit onto the card
    buttons = rows[0].payload["reply_markup"]["inline_keyboard"][0]
    assert {b["callback_data"] for b in buttons} == {f"top:start:{gas.id}:0", f"acc:view:{gas.id}"}

    await alerts.run_alerts(demo_town_en)  # the same day again: nothing new
    assert len([r for r in await _outbox(session, "alert.low_credit") if r.resident_id == WANG]) == 1
    demo_town_en.clock.advance(days=1)
    await alerts.run_alerts(demo_town_en)
    assert len([r for r in await _outbox(session, "alert.low_credit") if r.resident_id == WANG]) == 2


async def test_alerts_are_opt_in_and_follow_the_link(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await accounts.set_alerts(session, resident_id=WANG, account_id=gas.id, enabled=False)
    await _drain_credit(session, gas.id, leave_fen=100, now=demo_town_en.clock.now())
    await alerts.run_alerts(demo_town_en)
    assert [r for r in await _outbox(session) if r.resident_id == WANG and "low_credit" in r.kind] == []


async def test_no_alerts_at_night(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await _drain_credit(session, gas.id, leave_fen=100, now=demo_town_en.clock.now())
    demo_town_en.clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=LOCAL_TZ))
    run = await alerts.run_alerts(demo_town_en)
    assert run.checked == 0 and await _outbox(session) == []


async def test_r11_arrears_notice_with_cutoff_at_least_three_days_later(demo_town_en, session) -> None:
    """Wang's water account has been in arrears since 15 September (over a month): one notice, in English."""
    (await session.get(Resident, WANG)).language = "en"
    await session.commit()
    water = (await accounts.linked_accounts(session, WANG))[1]
    run = await alerts.run_alerts(demo_town_en)
    assert run.arrears >= 1
    [row] = [r for r in await _outbox(session, "alert.arrears") if r.resident_id == WANG]
    text = row.payload["text"]
    assert water.number in text and "¥51.40" in text and "September 15, 2026" in text
    assert "not before November 26, 2026" in text  # notice on the 23rd + 3 days (R11)
    assert "register for reconnection" in text and "order of registration" in text
    # repeated at most weekly, not daily
    demo_town_en.clock.advance(days=1)
    await alerts.run_alerts(demo_town_en)
    assert len([r for r in await _outbox(session, "alert.arrears") if r.resident_id == WANG]) == 1
    demo_town_en.clock.advance(days=7)
    await alerts.run_alerts(demo_town_en)
    assert len([r for r in await _outbox(session, "alert.arrears") if r.resident_id == WANG]) == 2


async def test_no_arrears_notice_before_a_month(demo_town_en, session) -> None:
    water = (await accounts.linked_accounts(session, WANG))[1]
    demo_town_en.clock.set(datetime(2026, 10, 14, 10, 0, tzinfo=LOCAL_TZ))  # 29 days after the unpaid bill
    await session.execute(update(LedgerEntry).where(LedgerEntry.account_id == water.id,
                                                    LedgerEntry.posted_at > demo_town_en.clock.now())
                          .values(amount_fen=0))
    await session.commit()
    await alerts.run_alerts(demo_town_en)
    assert [r for r in await _outbox(session, "alert.arrears") if r.resident_id == WANG] == []


async def test_sealed_account_notice_explains_reconnection(demo_town_en, session) -> None:
    water = (await accounts.linked_accounts(session, WANG))[1]
    water.state = AccountState.sealed
    await session.commit()
    await alerts.run_alerts(demo_town_en)
    [row] = [r for r in await _outbox(session, "alert.arrears") if r.resident_id == WANG]
    assert "已因欠费停止供应" in row.payload["text"] and "按登记顺序" in row.payload["text"]


async def test_every_resident_with_alerts_on_is_told_once_per_account_per_day(demo_town_en, session) -> None:
    gas = (await accounts.linked_accounts(session, WANG))[0]
    session.add(AccountLink(resident_id=ZHANG, account_id=gas.id, verified_at=demo_town_en.clock.now(),
                            method="bill_code", relation="relative", alerts_enabled=True))
    await session.commit()
    await _drain_credit(session, gas.id, leave_fen=100, now=demo_town_en.clock.now())
    await alerts.run_alerts(demo_town_en)
    rows = [r for r in await _outbox(session, "alert.low_credit") if gas.number in r.payload["text"]]
    assert sorted(r.resident_id for r in rows) == [WANG, ZHANG]
    logs = (await session.execute(select(AlertLog).where(AlertLog.account_id == gas.id))).scalars().all()
    assert len(logs) == 1


async def test_r11_payment_notice_reaches_residents_who_never_turned_alerts_on(demo_town_en, session) -> None:
    """R11: the payment notice is not an opt-in alert. With every link's alerts off, each linked resident of
    the account in arrears is still told (so the 3-day cut-off clock can start), while low credit stays opt-in."""
    water = (await accounts.linked_accounts(session, WANG))[1]
    session.add(AccountLink(resident_id=ZHANG, account_id=water.id, verified_at=demo_town_en.clock.now(),
                            method="bill_code", relation="relative", alerts_enabled=False))
    await session.execute(update(AccountLink).values(alerts_enabled=False))
    await session.commit()
    gas = (await accounts.linked_accounts(session, WANG))[0]
    await _drain_credit(session, gas.id, leave_fen=100, now=demo_town_en.clock.now())

    run = await alerts.run_alerts(demo_town_en)
    assert run.arrears >= 1 and run.low_credit == 0
    rows = [r for r in await _outbox(session, "alert.arrears") if water.number in r.payload["text"]]
    assert sorted(r.resident_id for r in rows) == [WANG, ZHANG]
    assert await _outbox(session, "alert.low_credit") == []
    logs = (await session.execute(select(AlertLog).where(AlertLog.account_id == water.id,
                                                         AlertLog.kind == alerts.ARREARS))).scalars().all()
    assert len(logs) == 1  # the notice that starts the R11 cut-off clock

"""Money is a ledger: an account's balance is the sum of its entries, in integer fen.

Payments are positive, charges negative, adjustments either way. Nothing stores a balance that could
disagree with the entries; every figure shown to a resident is computed from them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from sqlalchemy import ScalarSelect, and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.numbers import next_number
from db.enums import LedgerKind
from db.models import LedgerEntry

log = logging.getLogger(__name__)

RECEIPT_PREFIX = "CZ"  # 充值: reference numbers of top-ups made in the bot


def format_fen(fen: int, lang: str | None) -> str:
    """¥1,234.50 in both languages (Babel; English would otherwise say CN¥)."""
    value = Decimal(fen) / 100
    if (lang or "").startswith("en"):
        return format_currency(value, "CNY", format="¥#,##0.00;-¥#,##0.00", locale="en", currency_digits=False)
    return format_currency(value, "CNY", locale="zh_Hans_CN")


async def balance_fen(session: AsyncSession, account_id: int) -> int:
    q = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(LedgerEntry.account_id == account_id)
    return int((await session.execute(q)).scalar_one())


@dataclass(frozen=True)
class LedgerTotals:
    balance_fen: int
    charges_fen: int  # total of charges posted since the window start, as a positive number
    charge_count: int
    first_charge_at: datetime | None
    last_charge_at: datetime | None
    last_payment_fen: int | None
    last_payment_at: datetime | None

    def daily_cost_fen(self) -> float | None:
        """Average cost per day from the charges in the window (each charge covers the gap before it)."""
        if self.charge_count == 0 or self.charges_fen <= 0:
            return None
        if self.charge_count == 1 or self.first_charge_at is None or self.last_charge_at is None:
            return self.charges_fen / 30.0  # one monthly bill
        span_days = (self.last_charge_at - self.first_charge_at).total_seconds() / 86400
        if span_days < 1:
            return None
        per_charge_days = span_days / (self.charge_count - 1)
        return self.charges_fen / (self.charge_count * per_charge_days)


async def totals(session: AsyncSession, account_id: int, *, since: datetime) -> LedgerTotals:
    """Balance, recent charges and the last payment of one account in one indexed query (one round trip)."""
    recent_charge = and_(LedgerEntry.kind == LedgerKind.charge, LedgerEntry.posted_at >= since)

    def last_payment(column: InstrumentedAttribute[Any]) -> ScalarSelect[Any]:
        return (
            select(column)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.kind == LedgerKind.payment)
            .order_by(LedgerEntry.posted_at.desc(), LedgerEntry.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    agg = select(
        func.coalesce(func.sum(LedgerEntry.amount_fen), 0),
        func.coalesce(func.sum(case((recent_charge, -LedgerEntry.amount_fen), else_=0)), 0),
        func.count(case((recent_charge, 1))),
        func.min(case((recent_charge, LedgerEntry.posted_at))),
        func.max(case((recent_charge, LedgerEntry.posted_at))),
        last_payment(LedgerEntry.amount_fen),
        last_payment(LedgerEntry.posted_at),
    ).where(LedgerEntry.account_id == account_id)
    balance, charges, count, first, last, pay_fen, pay_at = (await session.execute(agg)).one()
    # min/max over a CASE lose the column type on some backends: normalise to aware datetimes.
    return LedgerTotals(
        balance_fen=int(balance), charges_fen=int(charges), charge_count=int(count),
        first_charge_at=_aware(first), last_charge_at=_aware(last),
        last_payment_fen=None if pay_fen is None else int(pay_fen), last_payment_at=_aware(pay_at),
    )


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns text from an untyped aggregate
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def arrears_since(session: AsyncSession, account_id: int) -> datetime | None:
    """When the balance last went below zero and stayed there (None if it is not negative now)."""
    q = (
        select(LedgerEntry.amount_fen, LedgerEntry.posted_at)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.posted_at, LedgerEntry.id)
    )
    running = 0
    since: datetime | None = None
    for amount, posted_at in (await session.execute(q)).all():
        before = running
        running += amount
        if running < 0 <= before:
            since = posted_at
        elif running >= 0:
            since = None
    return since if running < 0 else None


@dataclass(frozen=True)
class RecordedPayment:
    entry: LedgerEntry
    created: bool  # False: this charge id was recorded before (a replayed update)

    @property
    def receipt(self) -> str:
        return self.entry.description or f"#{self.entry.id}"


async def _by_charge_id(session: AsyncSession, charge_id: str) -> LedgerEntry | None:
    q = select(LedgerEntry).where(LedgerEntry.telegram_charge_id == charge_id)
    return (await session.execute(q)).scalar_one_or_none()


async def record_telegram_payment(
    session: AsyncSession, *, account_id: int, amount_fen: int, charge_id: str, now: datetime
) -> RecordedPayment:
    """Record a Telegram payment exactly once (unique telegram_charge_id); commits.

    A replayed successful_payment, or two deliveries racing each other, return the first entry.
    """
    if amount_fen <= 0:
        raise ValueError("a payment must be positive")
    existing = await _by_charge_id(session, charge_id)
    if existing is not None:
        return RecordedPayment(existing, False)
    receipt = await next_number(session, RECEIPT_PREFIX, now)
    entry = LedgerEntry(
        account_id=account_id, kind=LedgerKind.payment, amount_fen=amount_fen, posted_at=now,
        description=receipt, source="telegram", telegram_charge_id=charge_id,
    )
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        existing = await _by_charge_id(session, charge_id)
        if existing is None:
            raise
        return RecordedPayment(existing, False)
    log.info("telegram payment recorded: account %s, %s fen, receipt %s", account_id, amount_fen, receipt)
    return RecordedPayment(entry, True)

"""Billing-system integration: upsert accounts, readings, charges and payments (operator role or bearer token).

Every item carries the billing system's ``external_id``; sending it again updates the same record.
A request is all or nothing: if any item is invalid, nothing changes and every bad item is listed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CsrfDep, CtxDep, OperatorDep, SessionDep
from core import accounts, billing

router = APIRouter(prefix="/api/v1/billing", tags=["billing"], dependencies=[CsrfDep])
MAX_ITEMS = 10_000
T = TypeVar("T")


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(max_length=64, description="The billing system's id of this record (idempotency key)")
    account: str = Field(max_length=32, description="10-digit account number")


class AccountIn(_Item):
    utility: str | None = Field(None, description="gas | water | power (must match the number's first digit)")
    holder_name: str = Field(max_length=128)
    district: str = Field(max_length=64)
    street: str = Field(max_length=128)
    building: str = Field(max_length=32)
    unit: str | None = Field(None, max_length=16)
    room: str | None = Field(None, max_length=16)
    phone: str | None = Field(None, max_length=32, description="phone on file; residents prove ownership with it")
    bill_code: str | None = Field(None, max_length=6, description="6-digit verification code printed on bills "
                                                                  "(only its hash is stored)")
    meter_type: str = Field(description="ic_card | smart | ordinary")
    state: str = Field(description="R17: registered | awaiting_ignition | connected | vacant | dismantled | "
                                   "suspended | sealed")
    household_size: int | None = Field(None, description="registered persons (R13 water tiers)")
    low_credit_threshold: Decimal | None = Field(None, description="yuan; low-credit alert threshold")


class ReadingIn(_Item):
    date: dt.date
    value: Decimal = Field(description="cumulative register value (m³ / kWh, up to 3 decimals)")
    usage: Decimal = Field(description="consumption since the previous reading")


class ChargeIn(_Item):
    date: dt.date | dt.datetime = Field(description="posting date (local date) or ISO date-time")
    amount: Decimal = Field(description="yuan, positive; stored as a negative ledger entry")
    period: str | None = Field(None, description="YYYY-MM billed")
    quantity: Decimal | None = None
    description: str | None = Field(None, max_length=255)


class PaymentIn(_Item):
    date: dt.date | dt.datetime
    amount: Decimal = Field(description="yuan, positive")
    description: str | None = Field(None, max_length=255)
    telegram_charge_id: str | None = Field(None, max_length=128, description="set when echoing a payment made in "
                                                                             "the bot, so it is not counted twice")


class AdjustmentIn(_Item):
    date: dt.date | dt.datetime
    amount: Decimal = Field(description="yuan, signed: positive credits the account")
    description: str | None = Field(None, max_length=255)


class Batch(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")

    items: list[T] = Field(min_length=1, max_length=MAX_ITEMS)
    dry_run: bool = Field(False, description="validate only; change nothing")


def _row(kind: str, item: BaseModel) -> dict[str, str]:
    row: dict[str, str] = {"type": kind}
    for key, value in item.model_dump().items():
        if value is None:
            continue
        row[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return row


async def _upsert(kind: str, batch: Batch[Any], session, ctx, user) -> JSONResponse:
    rows = [(i, _row(kind, item)) for i, item in enumerate(batch.items, 1)]
    report = await billing.upsert(session, rows, now=ctx.clock.now(), source="billing", dry_run=batch.dry_run,
                                  staff_id=user.id, actor=user.username)
    body = report.as_dict()
    body["errors"] = [{"item": e["line"], "message": e["message"]} for e in body["errors"]]
    return JSONResponse(body, status_code=200 if report.ok else 422)


@router.post("/accounts")
async def upsert_accounts(batch: Batch[AccountIn], session: SessionDep, ctx: CtxDep, user: OperatorDep):
    """Create or update accounts (matched by external_id; an account without one is adopted by its number)."""
    return await _upsert("account", batch, session, ctx, user)


@router.post("/readings")
async def upsert_readings(batch: Batch[ReadingIn], session: SessionDep, ctx: CtxDep, user: OperatorDep):
    """Create or update meter readings."""
    return await _upsert("reading", batch, session, ctx, user)


@router.post("/charges")
async def upsert_charges(batch: Batch[ChargeIn], session: SessionDep, ctx: CtxDep, user: OperatorDep):
    """Create or update charges (bills)."""
    return await _upsert("charge", batch, session, ctx, user)


@router.post("/payments")
async def upsert_payments(batch: Batch[PaymentIn], session: SessionDep, ctx: CtxDep, user: OperatorDep):
    """Create or update payments made through other channels."""
    return await _upsert("payment", batch, session, ctx, user)


@router.post("/adjustments")
async def upsert_adjustments(batch: Batch[AdjustmentIn], session: SessionDep, ctx: CtxDep, user: OperatorDep):
    """Create or update adjustments (corrections, R12 refunds and back-charges)."""
    return await _upsert("adjustment", batch, session, ctx, user)


@router.get("/accounts/{number}/balance")
async def account_balance(number: str, session: SessionDep, ctx: CtxDep, user: OperatorDep) -> dict[str, Any]:
    """The balance as Onestop computes it from the ledger (for reconciliation with the billing system)."""
    account = await accounts.account_by_number(session, number)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such account")
    summary = await accounts.account_summary(session, account, now=ctx.clock.now())
    return {"account": account.number, "external_id": account.external_id, "balance_fen": summary.balance_fen,
            "days_left": summary.days_left}

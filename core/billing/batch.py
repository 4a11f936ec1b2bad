"""A batch against itself and the database (duplicates, unknown accounts, what already exists), then
written in one go: inserts and grouped executemany updates, R12 holds and R17 flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, any_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import bindparam

from core import account_states, corrections
from core.billing.records import (
    CHUNK,
    LEDGER_KINDS,
    PG_CHUNK,
    AccountRecord,
    ImportReport,
    LedgerRecord,
    ReadingRecord,
    Record,
)
from db.enums import AccountState, LedgerKind
from db.models import LedgerEntry, MeterReading, UtilityAccount

# --- validating a batch against itself and the database ------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def _lookup(session: AsyncSession, columns: Sequence[Any], key: Any, values: Iterable[Any]) -> dict[Any, Any]:
    """{key: row} for rows whose ``key`` is in ``values``, queried in chunks.

    PostgreSQL gets one array parameter per chunk (``key = ANY(:keys)``): an IN list of thousands of
    parameters costs more to render and bind than the index lookups themselves.
    """
    out: dict[Any, Any] = {}
    wanted = sorted(set(values))
    if not wanted:
        return out
    if session.get_bind().dialect.name == "postgresql":
        for chunk in _chunks(wanted, PG_CHUNK):
            keys = bindparam("keys", value=list(chunk), type_=ARRAY(key.type))
            for row in (await session.execute(select(*columns).where(key == any_(keys)))).all():
                out[row[0]] = row
        return out
    for chunk in _chunks(wanted):
        for row in (await session.execute(select(*columns).where(key.in_(chunk)))).all():
            out[row[0]] = row
    return out


@dataclass
class Plan:
    accounts: list[AccountRecord] = field(default_factory=list)
    readings: list[ReadingRecord] = field(default_factory=list)
    ledger: list[LedgerRecord] = field(default_factory=list)
    account_ids: dict[str, int] = field(default_factory=dict)  # number -> id (existing accounts)
    account_update: dict[int, int] = field(default_factory=dict)  # record line -> existing account id
    reading_update: dict[int, int] = field(default_factory=dict)  # record line -> existing reading id
    ledger_update: dict[int, int] = field(default_factory=dict)  # record line -> existing entry id
    state_changes: list[tuple[int, AccountState, AccountState]] = field(default_factory=list)  # R17, audited


async def validate_batch(session: AsyncSession, records: list[Record], report: ImportReport) -> Plan:
    plan = Plan()
    seen: dict[tuple[str, str], int] = {}
    for rec in records:
        space = "account" if isinstance(rec, AccountRecord) else "reading" if isinstance(rec, ReadingRecord) \
            else "ledger"
        key = (space, rec.external_id)
        if key in seen:
            report.add_error(rec.line, f"external_id {rec.external_id!r} appears twice (also on line {seen[key]})")
            continue
        seen[key] = rec.line
        if isinstance(rec, AccountRecord):
            plan.accounts.append(rec)
        elif isinstance(rec, ReadingRecord):
            plan.readings.append(rec)
        else:
            plan.ledger.append(rec)

    # Accounts: matched by external_id, else adopted by number if that account has no external id yet.
    by_ext = await _lookup(session, (UtilityAccount.external_id, UtilityAccount.id, UtilityAccount.number),
                           UtilityAccount.external_id, [a.external_id for a in plan.accounts])
    numbers = {a.number for a in plan.accounts} | {r.number for r in plan.readings} | {r.number for r in plan.ledger}
    by_number = await _lookup(session, (UtilityAccount.number, UtilityAccount.id, UtilityAccount.external_id),
                              UtilityAccount.number, numbers)
    plan.account_ids = {n: row[1] for n, row in by_number.items()}
    file_numbers: dict[str, int] = {}
    for rec in plan.accounts:
        if rec.number in file_numbers:
            report.add_error(rec.line, f"account {rec.number} appears twice (also on line {file_numbers[rec.number]})")
            continue
        file_numbers[rec.number] = rec.line
        holder = by_number.get(rec.number)
        mine = by_ext.get(rec.external_id)
        if mine is not None:
            if holder is not None and holder[1] != mine[1]:
                report.add_error(rec.line, f"account number {rec.number} already belongs to another account")
                continue
            plan.account_update[rec.line] = mine[1]
        elif holder is not None:
            if holder[2] is not None:
                report.add_error(rec.line, f"account number {rec.number} is already registered under a different "
                                           f"external_id")
                continue
            plan.account_update[rec.line] = holder[1]
    # R17: an account's state follows the allowed transitions only; each change is audited when written.
    states = await _lookup(session, (UtilityAccount.id, UtilityAccount.state), UtilityAccount.id,
                           plan.account_update.values())
    for rec in plan.accounts:
        if rec.line in plan.account_update and (row := states.get(plan.account_update[rec.line])) is not None:
            old = AccountState(row[1])
            if problem := account_states.transition_problem(old, rec.state):
                report.add_error(rec.line, problem)
            elif old is not rec.state:
                plan.state_changes.append((row[0], old, rec.state))
    known = set(plan.account_ids) | set(file_numbers)
    dependent: list[ReadingRecord | LedgerRecord] = [*plan.readings, *plan.ledger]
    for rec in dependent:
        if rec.number not in known:
            report.add_error(rec.line, f"account {rec.number} is unknown (send its account record first)")

    existing_readings = await _lookup(
        session, (MeterReading.external_id, MeterReading.id, MeterReading.account_id),
        MeterReading.external_id, [r.external_id for r in plan.readings])
    for rec in plan.readings:
        if (row := existing_readings.get(rec.external_id)) is not None:
            if plan.account_ids.get(rec.number) != row[2]:
                report.add_error(rec.line, f"reading {rec.external_id} was recorded for another account")
                continue
            plan.reading_update[rec.line] = row[1]

    ledger_cols = (LedgerEntry.external_id, LedgerEntry.id, LedgerEntry.account_id, LedgerEntry.kind,
                   LedgerEntry.amount_fen, LedgerEntry.telegram_charge_id)
    existing = await _lookup(session, ledger_cols, LedgerEntry.external_id, [r.external_id for r in plan.ledger])
    charge_ids = [r.telegram_charge_id for r in plan.ledger if r.telegram_charge_id]
    by_charge = await _lookup(session, (LedgerEntry.telegram_charge_id, *ledger_cols[:5]),
                              LedgerEntry.telegram_charge_id, charge_ids)
    for rec in plan.ledger:
        row = existing.get(rec.external_id)
        if row is not None:
            if plan.account_ids.get(rec.number) != row[2] or LedgerKind(row[3]) is not rec.kind:
                report.add_error(rec.line, f"external_id {rec.external_id} is already a {LedgerKind(row[3]).value} "
                                           f"of another account")
                continue
            plan.ledger_update[rec.line] = row[1]
        elif rec.telegram_charge_id and (paid := by_charge.get(rec.telegram_charge_id)) is not None:
            # The billing system echoes a top-up made in the bot: attach its id instead of counting it twice.
            _charge, paid_ext, paid_id, paid_account, _kind, paid_amount = paid
            if paid_ext is not None and paid_ext != rec.external_id:
                report.add_error(rec.line, "this Telegram payment already has another external_id")
                continue
            if paid_account != plan.account_ids.get(rec.number) or paid_amount != rec.amount_fen:
                report.add_error(rec.line, "telegram_charge_id matches a payment with a different account or amount")
                continue
            plan.ledger_update[rec.line] = paid_id
    return plan


# --- writing ------------------------------------------------------------------------------------------------


async def write_batch(session: AsyncSession, plan: Plan, report: ImportReport, *, now: datetime, source: str,
                      staff_id: int | None = None) -> None:
    acc_table = UtilityAccount.__table__
    new_accounts, changed_accounts = [], []
    for rec in plan.accounts:
        values: dict[str, Any] = {
            "number": rec.number, "external_id": rec.external_id, "utility": rec.utility,
            "holder_name": rec.holder_name, "district": rec.district, "street": rec.street,
            "building": rec.building, "meter_type": rec.meter_type, "state": rec.state, "updated_at": now,
        }
        # Optional columns left empty keep what is on file (a partial record never wipes a phone or code).
        optional = {"unit": rec.unit, "room": rec.room, "phone": rec.phone, "bill_code_hash": rec.bill_code_hash,
                    "household_size": rec.household_size, "low_credit_threshold_fen": rec.low_credit_threshold_fen}
        if rec.line in plan.account_update:
            changed_accounts.append({"_id": plan.account_update[rec.line], **values,
                                     **{k: v for k, v in optional.items() if v is not None}})
        else:
            optional["household_size"] = optional["household_size"] or 4
            new_accounts.append({**values, **optional, "created_at": now})
    await _update_many(session, acc_table, changed_accounts)
    if new_accounts:
        await session.execute(insert(acc_table), new_accounts)
        ids = await _lookup(session, (UtilityAccount.number, UtilityAccount.id), UtilityAccount.number,
                            [a["number"] for a in new_accounts])
        plan.account_ids.update({n: row[1] for n, row in ids.items()})
    for account_id, old, new in plan.state_changes:
        # R17: audited under whoever imported (a person, or an API token's service identity).
        account_states.audit_state_change(session, account_id=account_id, old=old, new=new, staff_id=staff_id,
                                          reason=f"billing {source}", now=now)
    report.created["account"] = len(new_accounts)
    report.updated["account"] = len(changed_accounts)

    new_readings, changed_readings = [], []
    for reading in plan.readings:
        values = {"account_id": plan.account_ids[reading.number], "read_on": reading.read_on,
                  "value_milli": reading.value_milli, "usage_milli": reading.usage_milli, "source": source,
                  "external_id": reading.external_id, "flag": account_states.reading_flag(reading.read_on)}
        if reading.line in plan.reading_update:
            changed_readings.append({"_id": plan.reading_update[reading.line], **values})
        else:
            new_readings.append(values)
    await _update_many(session, MeterReading.__table__, changed_readings)
    for chunk in _chunks(new_readings):
        await session.execute(insert(MeterReading.__table__), list(chunk))
    report.created["reading"] = len(new_readings)
    report.updated["reading"] = len(changed_readings)
    report.flagged = sum(1 for r in (*new_readings, *changed_readings) if r["flag"])  # R17
    report.held = await corrections.hold_suspicious_readings(session, [*new_readings, *changed_readings], now=now)

    new_entries: list[dict[str, Any]] = []
    changed_entries: list[dict[str, Any]] = []
    for entry in plan.ledger:
        values = {"account_id": plan.account_ids[entry.number], "kind": entry.kind, "amount_fen": entry.amount_fen,
                  "posted_at": entry.posted_at, "period": entry.period, "quantity_milli": entry.quantity_milli,
                  "description": entry.description, "external_id": entry.external_id}
        if entry.line in plan.ledger_update:
            if entry.telegram_charge_id:  # a bot top-up keeps its own time, source and receipt number
                changed_entries.append({"_id": plan.ledger_update[entry.line], "external_id": entry.external_id})
            else:
                changed_entries.append({"_id": plan.ledger_update[entry.line], **values})
        else:
            new_entries.append({**values, "source": source, "telegram_charge_id": entry.telegram_charge_id})
    await _update_many(session, LedgerEntry.__table__, changed_entries)
    new_entries, held = await corrections.divert_ledger_rows(session, new_entries, now=now)  # R12
    report.held += held
    for chunk in _chunks(new_entries):
        await session.execute(insert(LedgerEntry.__table__), list(chunk))
    for kind in LEDGER_KINDS:
        report.created[kind] = sum(1 for e in new_entries if e["kind"].value == kind)
        report.updated[kind] = sum(1 for rec in plan.ledger if rec.line in plan.ledger_update
                                   and rec.kind.value == kind)


async def _update_many(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """executemany UPDATE by primary key, grouped by the set of columns each row changes."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    for cols, group in groups.items():
        stmt = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in cols})
        for chunk in _chunks(group):
            await session.execute(stmt, list(chunk))

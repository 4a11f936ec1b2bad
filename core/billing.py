"""Billing integration: upsert accounts, readings, charges, payments and adjustments from the billing system.

One record format serves the REST API (JSON objects) and CSV files (one record per row, see README
"Billing CSV import"). Every record carries the billing system's ``external_id``; sending the same
record again updates it instead of adding a second one. A batch is validated completely first, and
written in one transaction only if every record is valid: a file with any bad row changes nothing,
and every bad row is reported with its line number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, any_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import bindparam

from core import account_numbers, account_states, audit, corrections
from core.clock import LOCAL_TZ, local
from core.demo import hash_bill_code
from db.enums import AccountState, LedgerKind, MeterType, Utility
from db.models import LedgerEntry, MeterReading, UtilityAccount

RECORD_TYPES = ("account", "reading", "charge", "payment", "adjustment")
LEDGER_KINDS = {"charge": LedgerKind.charge, "payment": LedgerKind.payment, "adjustment": LedgerKind.adjustment}
COLUMNS = (
    "type", "external_id", "account",
    # account records
    "utility", "holder_name", "district", "street", "building", "unit", "room", "phone", "bill_code",
    "meter_type", "state", "household_size", "low_credit_threshold",
    # readings and ledger records
    "date", "value", "usage", "amount", "period", "quantity", "description", "telegram_charge_id",
)
REQUIRED = {
    "account": ("holder_name", "district", "street", "building", "meter_type", "state"),
    "reading": ("date", "value", "usage"),
    "charge": ("date", "amount"),
    "payment": ("date", "amount"),
    "adjustment": ("date", "amount"),
}
MAX_AMOUNT_FEN = 100_000_000  # ¥1,000,000: anything larger is a unit mistake (fen sent as yuan)
MAX_VOLUME_MILLI = 10**12
MAX_ROWS = 1_000_000
MAX_ERRORS_KEPT = 1000
CHUNK = 5000  # IN-list size for lookups (well under PostgreSQL's and SQLite's parameter limits)
PG_CHUNK = 50_000  # keys per array parameter on PostgreSQL
EARLIEST = date(2000, 1, 1)
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}$")
_MONEY = re.compile(r"^[+-]?\d{1,9}(\.\d{1,2})?$")
_CONTROL = re.compile(r"[\x00-\x1f]")
_QUANTITY = re.compile(r"^\d{1,9}(\.\d{1,3})?$")


class RecordError(ValueError):
    pass


@dataclass
class AccountRecord:
    line: int
    external_id: str
    number: str
    utility: Utility
    holder_name: str
    district: str
    street: str
    building: str
    unit: str | None
    room: str | None
    phone: str | None
    bill_code_hash: str | None
    meter_type: MeterType
    state: AccountState
    household_size: int | None
    low_credit_threshold_fen: int | None


@dataclass
class ReadingRecord:
    line: int
    external_id: str
    number: str
    read_on: date
    value_milli: int
    usage_milli: int


@dataclass
class LedgerRecord:
    line: int
    external_id: str
    number: str
    kind: LedgerKind
    amount_fen: int  # signed as stored: charges negative
    posted_at: datetime
    period: str | None
    quantity_milli: int | None
    description: str | None
    telegram_charge_id: str | None


Record = AccountRecord | ReadingRecord | LedgerRecord


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    applied: bool = False
    held: int = 0  # R12: re-read tasks opened and entries held for a re-read or approvals
    flagged: int = 0  # R17: readings taken outside the 6th–26th window (kept, flagged)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(RowError(line, message))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "applied": self.applied, "rows": self.rows, "created": self.created,
                "updated": self.updated, "held": self.held, "flagged": self.flagged, "error_count": self.error_count,
                "errors": [{"line": e.line, "message": e.message} for e in self.errors]}


# --- parsing one record --------------------------------------------------------------------------------------


def _text(row: dict[str, str], name: str, max_len: int, required: bool = False) -> str | None:
    value = (row.get(name) or "").strip()
    if not value:
        if required:
            raise RecordError(f"{name} is required")
        return None
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if _CONTROL.search(value):
        raise RecordError(f"{name} contains control characters")
    return value


def _money(value: str, name: str, *, signed: bool = False) -> int:
    value = value.strip().replace("¥", "").replace("￥", "")
    if not _MONEY.match(value):
        raise RecordError(f"{name} must be an amount in yuan with at most 2 decimals, e.g. 123.45 (got {value!r})")
    fen = int(Decimal(value) * 100)
    if not signed and fen <= 0:
        raise RecordError(f"{name} must be greater than 0")
    if fen == 0:
        raise RecordError(f"{name} must not be 0")
    if abs(fen) > MAX_AMOUNT_FEN:
        raise RecordError(f"{name} is implausibly large (over ¥1,000,000)")
    return fen


def _quantity(value: str, name: str) -> int:
    value = value.strip()
    if not _QUANTITY.match(value):
        raise RecordError(f"{name} must be a number ≥ 0 with at most 3 decimals (got {value!r})")
    milli = int(Decimal(value) * 1000)
    if milli > MAX_VOLUME_MILLI:
        raise RecordError(f"{name} is implausibly large")
    return milli


def _day(value: str, now: datetime) -> date:
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RecordError(f"date must be YYYY-MM-DD (got {value!r})") from None
    if day < EARLIEST or day > local(now).date() + timedelta(days=1):
        raise RecordError(f"date {day.isoformat()} is out of range (2000-01-01 to tomorrow)")
    return day


def _moment(value: str, now: datetime) -> datetime:
    value = value.strip()
    if len(value) <= 10:
        return datetime.combine(_day(value, now), time(0, 0), tzinfo=LOCAL_TZ)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"date must be YYYY-MM-DD or an ISO date-time (got {value!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    _day(local(moment).date().isoformat(), now)
    return moment


def _enum(enum: type, value: str | None, name: str) -> Any:
    try:
        return enum((value or "").strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise RecordError(f"{name} must be one of: {allowed} (got {value!r})") from None


def parse_record(line: int, row: dict[str, str], *, now: datetime) -> Record:
    """One CSV row / API object (all values as text) -> a typed record; raises RecordError."""
    kind = (row.get("type") or "").strip().lower()
    if kind not in RECORD_TYPES:
        raise RecordError(f"type must be one of: {', '.join(RECORD_TYPES)} (got {row.get('type')!r})")
    external_id = (row.get("external_id") or "").strip()
    if not _EXTERNAL_ID.match(external_id):
        raise RecordError("external_id is required: 1–64 letters, digits or ._:/- (no spaces)")
    number = account_numbers.clean(row.get("account") or "")
    if not account_numbers.is_valid(number):
        raise RecordError(f"account must be a valid 10-digit account number (got {row.get('account')!r})")
    for name in REQUIRED[kind]:
        if not (row.get(name) or "").strip():
            raise RecordError(f"{name} is required for a {kind} record")

    if kind == "account":
        utility = account_numbers.utility_of(number)
        if (row.get("utility") or "").strip():
            given = _enum(Utility, row["utility"], "utility")
            if given is not utility:
                raise RecordError(f"utility {given.value} does not match the account number (a {utility} number)")
        phone = None
        if raw_phone := (row.get("phone") or "").strip():
            phone = re.sub(r"[\s\-+()]", "", raw_phone)
            if not phone.isdigit() or not 7 <= len(phone) <= 15:
                raise RecordError("phone must be 7–15 digits")
        bill_code_hash = None
        if code := (row.get("bill_code") or "").strip():
            if not re.fullmatch(r"\d{6}", code):
                raise RecordError("bill_code must be 6 digits")
            bill_code_hash = hash_bill_code(code)  # only the hash is kept
        household = None
        if raw := (row.get("household_size") or "").strip():
            if not raw.isdigit() or not 1 <= int(raw) <= 20:
                raise RecordError("household_size must be a whole number from 1 to 20")
            household = int(raw)
        threshold = None
        if raw := (row.get("low_credit_threshold") or "").strip():
            threshold = _money(raw, "low_credit_threshold")
        return AccountRecord(
            line=line, external_id=external_id, number=number, utility=utility,
            holder_name=_text(row, "holder_name", 128, True), district=_text(row, "district", 64, True),
            street=_text(row, "street", 128, True), building=_text(row, "building", 32, True),
            unit=_text(row, "unit", 16), room=_text(row, "room", 16), phone=phone, bill_code_hash=bill_code_hash,
            meter_type=_enum(MeterType, row.get("meter_type"), "meter_type"),
            state=_enum(AccountState, row.get("state"), "state"), household_size=household,
            low_credit_threshold_fen=threshold,
        )
    if kind == "reading":
        value = _quantity(row["value"], "value")
        usage = _quantity(row["usage"], "usage")
        return ReadingRecord(line, external_id, number, _day(row["date"], now), value, usage)

    amount = _money(row["amount"], "amount", signed=kind == "adjustment")
    if kind == "charge":
        amount = -amount  # stored negative: a charge lowers the balance
    posted_at = _moment(row["date"], now)
    period = None
    if raw := (row.get("period") or "").strip():
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", raw):
            raise RecordError("period must be YYYY-MM")
        period = raw
    elif kind == "charge":
        period = local(posted_at).strftime("%Y-%m")
    quantity = None
    if raw := (row.get("quantity") or "").strip():
        quantity = _quantity(raw, "quantity")
    charge_id = _text(row, "telegram_charge_id", 128)
    if charge_id and kind != "payment":
        raise RecordError("telegram_charge_id is only for payment records")
    return LedgerRecord(line, external_id, number, LEDGER_KINDS[kind], amount, posted_at, period, quantity,
                        _text(row, "description", 255), charge_id)


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
class _Plan:
    accounts: list[AccountRecord] = field(default_factory=list)
    readings: list[ReadingRecord] = field(default_factory=list)
    ledger: list[LedgerRecord] = field(default_factory=list)
    account_ids: dict[str, int] = field(default_factory=dict)  # number -> id (existing accounts)
    account_update: dict[int, int] = field(default_factory=dict)  # record line -> existing account id
    reading_update: dict[int, int] = field(default_factory=dict)  # record line -> existing reading id
    ledger_update: dict[int, int] = field(default_factory=dict)  # record line -> existing entry id
    state_changes: list[tuple[int, AccountState, AccountState]] = field(default_factory=list)  # R17, audited


async def _validate(session: AsyncSession, records: list[Record], report: ImportReport) -> _Plan:
    plan = _Plan()
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
    for rec in [*plan.readings, *plan.ledger]:
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


async def _write(session: AsyncSession, plan: _Plan, report: ImportReport, *, now: datetime, source: str,
                 staff_id: int | None = None) -> None:
    acc_table = UtilityAccount.__table__
    new_accounts, changed_accounts = [], []
    for rec in plan.accounts:
        values = {
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
    for rec in plan.readings:
        values = {"account_id": plan.account_ids[rec.number], "read_on": rec.read_on, "value_milli": rec.value_milli,
                  "usage_milli": rec.usage_milli, "source": source, "external_id": rec.external_id,
                  "flag": account_states.reading_flag(rec.read_on)}
        if rec.line in plan.reading_update:
            changed_readings.append({"_id": plan.reading_update[rec.line], **values})
        else:
            new_readings.append(values)
    await _update_many(session, MeterReading.__table__, changed_readings)
    for chunk in _chunks(new_readings):
        await session.execute(insert(MeterReading.__table__), list(chunk))
    report.created["reading"] = len(new_readings)
    report.updated["reading"] = len(changed_readings)
    report.flagged = sum(1 for r in (*new_readings, *changed_readings) if r["flag"])  # R17
    report.held = await corrections.hold_suspicious_readings(session, [*new_readings, *changed_readings], now=now)

    new_entries, changed_entries = [], []
    for rec in plan.ledger:
        values = {"account_id": plan.account_ids[rec.number], "kind": rec.kind, "amount_fen": rec.amount_fen,
                  "posted_at": rec.posted_at, "period": rec.period, "quantity_milli": rec.quantity_milli,
                  "description": rec.description, "external_id": rec.external_id}
        if rec.line in plan.ledger_update:
            if rec.telegram_charge_id:  # a bot top-up keeps its own time, source and receipt number
                changed_entries.append({"_id": plan.ledger_update[rec.line], "external_id": rec.external_id})
            else:
                changed_entries.append({"_id": plan.ledger_update[rec.line], **values})
        else:
            new_entries.append({**values, "source": source, "telegram_charge_id": rec.telegram_charge_id})
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


# --- entry points --------------------------------------------------------------------------------------------


async def upsert(
    session: AsyncSession,
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    now: datetime,
    source: str = "billing",
    dry_run: bool = False,
    staff_id: int | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Validate every (line, row) and, if all are valid and not ``dry_run``, write them in one transaction."""
    report = ImportReport(rows=len(rows))
    records: list[Record] = []
    for line, row in rows:
        try:
            records.append(parse_record(line, row, now=now))
        except RecordError as e:
            report.add_error(line, str(e))
    plan = await _validate(session, records, report)
    if not report.ok:  # only SELECTs ran: nothing to undo
        return report
    if dry_run:
        report.created = {"account": sum(1 for a in plan.accounts if a.line not in plan.account_update),
                          "reading": sum(1 for r in plan.readings if r.line not in plan.reading_update)}
        report.updated = {"account": len(plan.account_update), "reading": len(plan.reading_update)}
        for kind, lk in LEDGER_KINDS.items():
            recs = [r for r in plan.ledger if r.kind is lk]
            report.created[kind] = sum(1 for r in recs if r.line not in plan.ledger_update)
            report.updated[kind] = sum(1 for r in recs if r.line in plan.ledger_update)
        return report
    try:
        await _write(session, plan, report, now=now, source=source, staff_id=staff_id)
        audit.record(session, at=now, staff_id=staff_id, action="billing.import", target_type="billing",
                     target_id=source, rows=report.rows, created=report.created, updated=report.updated,
                     actor=actor)
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    report.applied = True
    return report


def read_csv(data: bytes | str) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Rows of a billing CSV with their line numbers; header problems come back as errors on line 1.

    UTF-8 (with or without BOM) and GB18030 (what Chinese Excel saves) are both accepted.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                return [], [RowError(1, "the file is not text (save it as CSV, UTF-8)")]
    else:
        text = data.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        return [], [RowError(1, "the file is empty")]
    errors = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        errors.append(RowError(1, f"unknown column(s): {', '.join(unknown)}; allowed: {', '.join(COLUMNS)}"))
    for needed in ("type", "external_id", "account"):
        if needed not in header:
            errors.append(RowError(1, f"missing column: {needed}"))
    if len(set(header)) != len(header):
        errors.append(RowError(1, "a column appears twice"))
    if errors:
        return [], errors
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            if None in row:
                errors.append(RowError(reader.line_num, "more values than columns"))
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            rows.append((reader.line_num, {k: v or "" for k, v in row.items()}))
            if len(rows) > MAX_ROWS:
                return [], [RowError(reader.line_num, f"too many rows (at most {MAX_ROWS:,} per file)")]
    except csv.Error as e:
        errors.append(RowError(reader.line_num, f"not valid CSV: {e}"))
    return rows, errors


async def import_csv(
    session: AsyncSession,
    data: bytes | str,
    *,
    now: datetime,
    dry_run: bool = False,
    staff_id: int | None = None,
    actor: str | None = None,
) -> ImportReport:
    """`onestop import FILE.csv` and the console upload: all rows or nothing."""
    rows, errors = read_csv(data)
    if errors:
        report = ImportReport(rows=len(rows))
        for e in errors:
            report.add_error(e.line, e.message)
        return report
    return await upsert(session, rows, now=now, source="import", dry_run=dry_run, staff_id=staff_id, actor=actor)


async def recent_imports(session: AsyncSession, limit: int = 10) -> list[Any]:
    """The last imports (from the audit log) for the console page."""
    from db.models import AuditLog

    q = select(AuditLog).where(AuditLog.action == "billing.import").order_by(AuditLog.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())

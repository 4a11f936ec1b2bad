"""The billing record format: columns, limits, one record parsed and checked on its own, CSV rows."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from core import account_numbers
from core.clock import LOCAL_TZ, local
from core.demo import hash_bill_code
from db.enums import AccountState, LedgerKind, MeterType, Utility

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


def _text(row: dict[str, str], name: str, max_len: int) -> str | None:
    value = (row.get(name) or "").strip()
    if not value:
        return None
    if len(value) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    if _CONTROL.search(value):
        raise RecordError(f"{name} contains control characters")
    return value


def _required_text(row: dict[str, str], name: str, max_len: int) -> str:
    value = _text(row, name, max_len)
    if value is None:
        raise RecordError(f"{name} is required")
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


def _enum(enum: type[Enum], value: str | None, name: str) -> Any:
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
        if utility is None:  # a valid number always names its utility
            raise RecordError(f"account must be a valid 10-digit account number (got {row.get('account')!r})")
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
            holder_name=_required_text(row, "holder_name", 128), district=_required_text(row, "district", 64),
            street=_required_text(row, "street", 128), building=_required_text(row, "building", 32),
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

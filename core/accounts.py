"""Utility accounts as residents see them: linking with proof of ownership, balance summaries, top-up checks.

A resident sees an account only after proving it is theirs (R15): by sharing their own Telegram contact
whose phone matches the phone on file, or by the verification code printed on the bill. Before that the
bot says nothing about the account, not even whether the number exists. R16: a link may be for a
relative's account (proxy service); the guided-mode family flow reuses these functions.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from core import audit, ledger, tariffs
from core.clock import local
from core.demo import hash_bill_code
from db.enums import AccountState, LinkMethod, MeterType, Utility
from db.models import AccountLink, MeterReading, Resident, UtilityAccount


def N_(message: str) -> str:
    """Mark a msgid for extraction; translated where it is shown, in the reader's language."""
    return message


UTILITY_LABELS = {Utility.gas: N_("Gas"), Utility.water: N_("Water"), Utility.power: N_("Electricity")}
UTILITY_ICONS = {Utility.gas: "🔥", Utility.water: "💧", Utility.power: "⚡"}
METER_LABELS = {
    MeterType.ic_card: N_("IC-card prepaid meter"),
    MeterType.smart: N_("Smart prepaid meter"),
    MeterType.ordinary: N_("Ordinary meter (billed monthly)"),
}
STATE_LABELS = {  # R17 account states
    AccountState.registered: N_("Registered"),
    AccountState.awaiting_ignition: N_("Awaiting ignition"),
    AccountState.connected: N_("Connected"),
    AccountState.vacant: N_("Vacant"),
    AccountState.dismantled: N_("Dismantled"),
    AccountState.suspended: N_("Suspended at your request"),
    AccountState.sealed: N_("Sealed (arrears or violation)"),
}
PREPAID_METERS = (MeterType.ic_card, MeterType.smart)

MAX_LINK_FAILURES = 5
LINK_LOCK = timedelta(hours=1)
RELATIONS = ("self", "relative")
SUMMARY_WINDOW = timedelta(days=365)
TOPUP_BLOCKED_STATES = (AccountState.dismantled,)  # a removed meter can take no credit
DEFAULT_HOUSEHOLD = 4  # R13 base household: persons assumed when the billing system sent no household size


def household_of(account: UtilityAccount) -> int:
    """Registered persons on the account (R13 water tiers), or the base household when unknown."""
    return account.household_size or DEFAULT_HOUSEHOLD


# --- presentation helpers (no Telegram types) ---------------------------------------------------------------


def is_en(lang: str | None) -> bool:
    return (lang or "").startswith("en")


def mask_name(name: str) -> str:
    """王建国 -> 王*国, 李娜 -> 李*, Li Na -> L* N* (enough to recognise, not to disclose, R15)."""
    name = (name or "").strip()
    if not name:
        return "*"
    if name.isascii():
        return " ".join(w[0] + "*" * max(1, min(len(w) - 1, 3)) for w in name.split())
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def format_address(account: UtilityAccount, lang: str | None) -> str:
    """The service address, as printed on bills (addresses are kept in Chinese)."""
    unit = account.unit or ""
    room = account.room or ""
    if is_en(lang):
        parts = [f"Room {room}" if room else "", f"Unit {unit}" if unit else "", f"Building {account.building}",
                 account.street, account.district]
        return ", ".join(p for p in parts if p)
    return (f"{account.district}{account.street}{account.building}号"
            + (f"{unit}单元" if unit else "") + (f"{room}室" if room else ""))


def format_day(value: date | datetime, lang: str | None) -> str:
    """2026年11月23日 / November 23, 2026 (local date for datetimes)."""
    if isinstance(value, datetime):
        value = local(value).date()
    return format_date(value, "long", locale="en" if is_en(lang) else "zh_Hans_CN")


def format_quantity(milli: float, utility: Utility, lang: str | None) -> str:
    unit = tariffs.load_tariffs().unit(utility, lang)
    number = format_decimal(milli / 1000, format="#,##0.#", locale="en" if is_en(lang) else "zh_Hans_CN")
    return f"{number} {unit}"


# --- links ---------------------------------------------------------------------------------------------------


async def linked_accounts(session: AsyncSession, resident_id: int) -> list[UtilityAccount]:
    """The accounts a resident has proved are theirs (or a relative's), in the order they were linked."""
    q = (
        select(UtilityAccount)
        .join(AccountLink, AccountLink.account_id == UtilityAccount.id)
        .where(AccountLink.resident_id == resident_id)
        .order_by(AccountLink.id)
    )
    return list((await session.execute(q)).scalars())


async def links_of(session: AsyncSession, resident_id: int) -> list[AccountLink]:
    q = (
        select(AccountLink)
        .options(selectinload(AccountLink.account))
        .where(AccountLink.resident_id == resident_id)
        .order_by(AccountLink.id)
    )
    return list((await session.execute(q)).scalars())


async def get_link(session: AsyncSession, resident_id: int, account_id: int) -> AccountLink | None:
    """The resident's link to this account, or None: the ownership check behind every button."""
    q = (
        select(AccountLink)
        .options(joinedload(AccountLink.account, innerjoin=True))  # one round trip: this runs on every tap
        .where(AccountLink.resident_id == resident_id, AccountLink.account_id == account_id)
    )
    return (await session.execute(q)).scalar_one_or_none()


class LinkStatus(StrEnum):
    linked = "linked"
    already_linked = "already_linked"
    not_verified = "not_verified"  # unknown number OR wrong proof: deliberately the same answer
    locked = "locked"


@dataclass(frozen=True)
class LinkResult:
    status: LinkStatus
    link: AccountLink | None = None
    attempts_left: int = MAX_LINK_FAILURES
    locked_until: datetime | None = None


def locked_until(resident: Resident, now: datetime) -> datetime | None:
    """When linking is allowed again after too many failed attempts; None if it is allowed now."""
    until = resident.link_locked_until
    return until if until is not None and until > now else None


def _phone_digits(phone: str | None) -> str:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    return digits[-11:]


def _proof_ok(account: UtilityAccount, method: LinkMethod, proof: str) -> bool:
    if method is LinkMethod.contact:
        given, on_file = _phone_digits(proof), _phone_digits(account.phone)
        return len(given) >= 7 and len(on_file) >= 7 and hmac.compare_digest(given, on_file)
    if method is LinkMethod.bill_code:
        return account.bill_code_hash is not None and hmac.compare_digest(
            hash_bill_code(proof.strip()), account.bill_code_hash)
    return False


async def account_by_number(session: AsyncSession, number: str) -> UtilityAccount | None:
    q = select(UtilityAccount).where(UtilityAccount.number == number)
    return (await session.execute(q)).scalar_one_or_none()


async def own_link_by_number(session: AsyncSession, resident_id: int, number: str) -> AccountLink | None:
    q = (
        select(AccountLink)
        .options(selectinload(AccountLink.account))
        .join(UtilityAccount, AccountLink.account_id == UtilityAccount.id)
        .where(AccountLink.resident_id == resident_id, UtilityAccount.number == number)
    )
    return (await session.execute(q)).scalar_one_or_none()


async def verify_and_link(
    session: AsyncSession,
    *,
    resident: Resident,
    number: str,
    method: LinkMethod,
    proof: str,
    now: datetime,
    relation: str = "self",
) -> LinkResult:
    """Link ``number`` to the resident if ``proof`` (phone on file or bill code) matches; commits.

    ``proof`` for LinkMethod.contact is the phone of a contact the caller has checked belongs to the
    resident themself. Five failures lock linking for an hour; an unknown number counts as a failure and
    gets the same answer as a wrong proof, so numbers cannot be probed.
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}")
    if method not in (LinkMethod.contact, LinkMethod.bill_code):
        raise ValueError("residents link by contact or bill code")
    until = locked_until(resident, now)
    if until is not None:
        return LinkResult(LinkStatus.locked, attempts_left=0, locked_until=until)
    existing = await own_link_by_number(session, resident.id, number)
    if existing is not None:
        return LinkResult(LinkStatus.already_linked, link=existing)
    account = await account_by_number(session, number)
    if account is None or not _proof_ok(account, method, proof):
        return await _failed(session, resident, now)
    resident.link_failures = 0
    resident.link_locked_until = None
    link = AccountLink(resident_id=resident.id, account_id=account.id, verified_at=now, method=method,
                       relation=relation, alerts_enabled=False)
    session.add(link)
    audit.record(session, at=now, staff_id=None, action="account.link", target_type="account",
                 target_id=account.id, resident_id=resident.id, method=method.value, relation=relation)
    await session.commit()
    link.account = account
    return LinkResult(LinkStatus.linked, link=link)


async def _failed(session: AsyncSession, resident: Resident, now: datetime) -> LinkResult:
    resident.link_failures = (resident.link_failures or 0) + 1
    if resident.link_failures >= MAX_LINK_FAILURES:
        resident.link_failures = 0
        resident.link_locked_until = now + LINK_LOCK
        audit.record(session, at=now, staff_id=None, action="account.link_locked", target_type="resident",
                     target_id=resident.id)
        await session.commit()
        return LinkResult(LinkStatus.locked, attempts_left=0, locked_until=resident.link_locked_until)
    await session.commit()
    return LinkResult(LinkStatus.not_verified, attempts_left=MAX_LINK_FAILURES - resident.link_failures)


async def unlink(session: AsyncSession, *, resident_id: int, account_id: int, now: datetime) -> bool:
    """Remove the resident's link (alerts stop with it); False if there was none. Commits."""
    link = await get_link(session, resident_id, account_id)
    if link is None:
        return False
    await session.delete(link)
    audit.record(session, at=now, staff_id=None, action="account.unlink", target_type="account",
                 target_id=account_id, resident_id=resident_id)
    await session.commit()
    return True


async def set_alerts(session: AsyncSession, *, resident_id: int, account_id: int, enabled: bool) -> AccountLink | None:
    """Opt in or out of low-credit and arrears alerts for one linked account. Commits."""
    link = await get_link(session, resident_id, account_id)
    if link is None:
        return None
    link.alerts_enabled = enabled
    await session.commit()
    return link


# --- summary -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUsage:
    month: date  # first day of the month
    usage_milli: int


@dataclass(frozen=True)
class AccountSummary:
    account_id: int
    number: str
    utility: Utility
    holder_masked: str
    meter_type: MeterType
    state: AccountState
    balance_fen: int  # ledger sum: positive = prepaid credit, negative = arrears
    last_payment_fen: int | None
    last_payment_at: datetime | None
    last_reading_on: date | None
    last_reading_milli: int | None
    last_usage_milli: int | None
    avg_daily_use_milli: float | None
    avg_daily_cost_fen: float | None
    days_left: int | None  # estimated days the credit lasts at the recent rate; None = not enough history
    low_credit_threshold_fen: int
    months: tuple[MonthUsage, ...]  # the last 12 calendar months, oldest first, for the chart

    @property
    def prepaid(self) -> bool:
        return self.meter_type in PREPAID_METERS

    @property
    def arrears_fen(self) -> int:
        return max(0, -self.balance_fen)

    @property
    def credit_fen(self) -> int:
        return max(0, self.balance_fen)

    @property
    def low_credit(self) -> bool:
        """Credit under the threshold or under the alert horizon (tariffs.yaml low_credit_days)."""
        if self.balance_fen < 0:
            return False  # that is arrears, a different notice (R11)
        if self.balance_fen < self.low_credit_threshold_fen:
            return True
        return self.days_left is not None and self.days_left < tariffs.load_tariffs().low_credit_days


def month_start(day: date, months_back: int = 0) -> date:
    y, m = day.year, day.month - months_back
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1)


async def account_summary(session: AsyncSession, account: UtilityAccount, *, now: datetime) -> AccountSummary:
    """Everything the balance view shows, computed from the ledger and the readings (3 indexed queries)."""
    book = tariffs.load_tariffs()
    today = local(now).date()
    totals = await ledger.totals(session, account.id, since=now - SUMMARY_WINDOW)
    first_month = month_start(today, 11)
    since_day = min(first_month, today - SUMMARY_WINDOW)
    rq = (
        select(MeterReading.read_on, MeterReading.value_milli, MeterReading.usage_milli)
        .where(MeterReading.account_id == account.id, MeterReading.read_on >= since_day)
        .order_by(MeterReading.read_on, MeterReading.id)
    )
    readings = (await session.execute(rq)).all()

    buckets: dict[date, int] = {month_start(today, k): 0 for k in range(11, -1, -1)}
    for read_on, _value, usage in readings:
        key = date(read_on.year, read_on.month, 1)
        if key in buckets:
            buckets[key] += usage
    months = tuple(MonthUsage(m, u) for m, u in buckets.items())

    window = [r for r in readings if r[0] >= today - SUMMARY_WINDOW]
    avg_use: float | None = None
    if len(window) >= 2 and (span := (window[-1][0] - window[0][0]).days) > 0:
        avg_use = sum(r[2] for r in window[1:]) / span
    elif len(window) == 1:
        avg_use = window[0][2] / 30.0

    daily_cost = totals.daily_cost_fen()
    if daily_cost is None and avg_use:
        yearly = int(avg_use * 365)
        daily_cost = tariffs.estimate_cost_fen(account.utility, int(avg_use), yearly_milli=yearly,
                                               household=household_of(account), book=book) or None
    days_left: int | None = None
    if totals.balance_fen <= 0:
        days_left = 0
    elif daily_cost:
        days_left = math.floor(totals.balance_fen / daily_cost)

    last = readings[-1] if readings else None
    threshold = account.low_credit_threshold_fen
    if threshold is None:
        threshold = book.low_credit_fen[account.utility]
    return AccountSummary(
        account_id=account.id, number=account.number, utility=account.utility,
        holder_masked=mask_name(account.holder_name), meter_type=account.meter_type, state=account.state,
        balance_fen=totals.balance_fen, last_payment_fen=totals.last_payment_fen,
        last_payment_at=totals.last_payment_at,
        last_reading_on=last[0] if last else None, last_reading_milli=last[1] if last else None,
        last_usage_milli=last[2] if last else None, avg_daily_use_milli=avg_use, avg_daily_cost_fen=daily_cost,
        days_left=days_left, low_credit_threshold_fen=threshold, months=months,
    )


# --- top-up checks -------------------------------------------------------------------------------------------


class TopupProblem(StrEnum):
    not_linked = "not_linked"
    closed = "closed"
    below_min = "below_min"
    above_max = "above_max"


@dataclass(frozen=True)
class TopupCheck:
    problem: TopupProblem | None
    min_fen: int
    max_fen: int
    account: UtilityAccount | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def topup_limits(balance_fen: int) -> tuple[int, int]:
    """(min, max) of one payment; a resident in arrears may always pay exactly the arrears."""
    limits = tariffs.load_tariffs().topup
    low = limits.min_fen if balance_fen >= 0 else min(limits.min_fen, -balance_fen)
    return low, limits.max_fen


async def check_topup(session: AsyncSession, *, resident_id: int, account_id: int, amount_fen: int) -> TopupCheck:
    """Is this payment acceptable right now? Used when the invoice is made and again at pre-checkout."""
    link = await get_link(session, resident_id, account_id)
    book_limits = tariffs.load_tariffs().topup
    if link is None:
        return TopupCheck(TopupProblem.not_linked, book_limits.min_fen, book_limits.max_fen)
    account = link.account
    if account.state in TOPUP_BLOCKED_STATES:
        return TopupCheck(TopupProblem.closed, book_limits.min_fen, book_limits.max_fen, account)
    low, high = topup_limits(await ledger.balance_fen(session, account_id))
    if amount_fen < low:
        return TopupCheck(TopupProblem.below_min, low, high, account)
    if amount_fen > high:
        return TopupCheck(TopupProblem.above_max, low, high, account)
    return TopupCheck(None, low, high, account)


# --- guided mode: linking by the resident's own phone (issue 8) ---------------------------------------------


def short_address(account: UtilityAccount) -> str:
    """Street and building only (人民路12号): enough for residents to recognise their home on a big button,
    without the room (a phone number on file may be stale, R15)."""
    street = (account.street or "")[:5]
    return f"{street}{account.building}号" if account.building else street or account.district


async def accounts_with_phone(session: AsyncSession, *, resident_id: int, phone: str) -> list[UtilityAccount]:
    """Accounts whose phone on file matches ``phone`` and that the resident has not linked yet.

    ``phone`` must be the resident's OWN contact (the caller checks that): sharing it is the proof of
    ownership, so only after it are these accounts named. Matching is the same as ``verify_and_link``'s.
    """
    digits = _phone_digits(phone)
    if len(digits) < 7:
        return []
    linked = select(AccountLink.account_id).where(AccountLink.resident_id == resident_id)
    q = (
        select(UtilityAccount)
        .where(UtilityAccount.phone.endswith(digits), UtilityAccount.id.not_in(linked),
               UtilityAccount.state != AccountState.dismantled)
        .order_by(UtilityAccount.id)
    )
    return [a for a in (await session.execute(q)).scalars() if _proof_ok(a, LinkMethod.contact, phone)]


async def record_failed_link(session: AsyncSession, *, resident: Resident, now: datetime) -> LinkResult:
    """Count a proof that failed before any number was chosen (somebody else's contact) under the same lock
    rules as ``verify_and_link``; commits."""
    until = locked_until(resident, now)
    if until is not None:
        return LinkResult(LinkStatus.locked, attempts_left=0, locked_until=until)
    return await _failed(session, resident, now)

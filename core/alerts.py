"""Account alerts, sent through the outbox: the opt-in low prepaid credit alert, and the R11 arrears notice.

The low-credit alert goes only to residents who turned alerts on. The R11 payment notice is not optional:
it goes to every linked resident of the account, because the supply may be cut 3 days after it and a
resident who never opted in must not lose the supply without having been told.

R11: a payment notice after one month of arrears; supply is cut no earlier than 3 days after the
notice; after paying, the customer registers for reconnection and is served in order of registration.

At most one alert of a kind per account per day (AlertLog's unique key also stops two workers running the
job at once from both sending). The arrears notice is repeated at most weekly while arrears last, and
nothing is sent at night.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import accounts, ledger, outbox
from core.clock import local
from core.context import AppContext
from db.enums import AccountState, MeterType
from db.models import AccountLink, AlertLog, Resident, UtilityAccount

log = logging.getLogger(__name__)

N_ = accounts.N_

LOW_CREDIT = "low_credit"
ARREARS = "arrears"
ARREARS_REPEAT = timedelta(days=7)
CUTOFF_AFTER_NOTICE = timedelta(days=3)  # R11: no cut-off earlier than 3 days after the notice
SEND_HOURS = (9, 20)  # local time: no alerts at night
# Inline buttons under an alert: the callback data of the bot's AccountCallback / TopupCallback
# (tests/core/test_alerts.py checks these stay equal to what the bot packs).
VIEW_CALLBACK = "acc:view:{account_id}"
TOPUP_CALLBACK = "top:start:{account_id}:0"


@dataclass
class AlertRun:
    checked: int = 0
    low_credit: int = 0  # notifications enqueued
    arrears: int = 0


def _month_before(day: date) -> date:
    """The same day one month earlier (clamped to the month's length)."""
    y, m = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def run_alerts(ctx: AppContext) -> AlertRun:
    """The periodic job: check every linked account (R11 notices go to all links, low credit to opted-in ones)."""
    now = ctx.clock.now()
    run = AlertRun()
    if not SEND_HOURS[0] <= local(now).hour < SEND_HOURS[1]:
        return run
    async with ctx.sessionmaker() as session:
        q = select(AccountLink.account_id).distinct()
        account_ids = sorted((await session.execute(q)).scalars())
    for account_id in account_ids:
        async with ctx.sessionmaker() as session:
            try:
                await check_account(session, ctx, account_id, now=now, run=run)
            except Exception:
                log.exception("alerts for account %s failed", account_id)
                await session.rollback()
        run.checked += 1
    if run.low_credit or run.arrears:
        log.info("alerts: %s low-credit and %s arrears notifications queued", run.low_credit, run.arrears)
    return run


async def check_account(session: AsyncSession, ctx: AppContext, account_id: int, *, now: datetime,
                        run: AlertRun) -> None:
    account = await session.get(UtilityAccount, account_id)
    if account is None:
        return
    today = local(now).date()
    summary = await accounts.account_summary(session, account, now=now)
    if (summary.prepaid and summary.low_credit and await _has_opted_in(session, account_id)
            and await _claim(session, account_id, LOW_CREDIT, now)):
        run.low_credit += await _notify(session, ctx, account, summary, LOW_CREDIT, now=now)
    if summary.balance_fen < 0:
        since = await ledger.arrears_since(session, account_id)
        if (since is not None and local(since).date() <= _month_before(today)
                and await _claim(session, account_id, ARREARS, now, repeat=ARREARS_REPEAT)):
            run.arrears += await _notify(session, ctx, account, summary, ARREARS, now=now, since=since)
    await session.commit()


async def _has_opted_in(session: AsyncSession, account_id: int) -> bool:
    q = select(AccountLink.id).where(AccountLink.account_id == account_id,
                                     AccountLink.alerts_enabled.is_(True)).limit(1)
    return (await session.execute(q)).first() is not None


async def _claim(session: AsyncSession, account_id: int, kind: str, now: datetime,
                 repeat: timedelta = timedelta(days=1)) -> bool:
    """Take today's slot for this alert; False if it was sent within ``repeat`` (or by another worker)."""
    today = local(now).date()
    q = select(AlertLog.id).where(AlertLog.account_id == account_id, AlertLog.kind == kind,
                                  AlertLog.day > today - repeat).limit(1)
    if (await session.execute(q)).first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(AlertLog(account_id=account_id, kind=kind, day=today, created_at=now))
    except IntegrityError:
        return False
    return True


async def _notify(session: AsyncSession, ctx: AppContext, account: UtilityAccount,
                  summary: accounts.AccountSummary, kind: str, *, now: datetime, since: datetime | None = None) -> int:
    q = (
        select(AccountLink.resident_id, Resident.language)
        .join(Resident, Resident.id == AccountLink.resident_id)
        .where(AccountLink.account_id == account.id)
    )
    if kind != ARREARS:  # R11: the payment notice reaches every linked resident; only low credit is opt-in
        q = q.where(AccountLink.alerts_enabled.is_(True))
    sent = 0
    for resident_id, language in (await session.execute(q)).all():
        text = alert_text(ctx, account, summary, kind, language, now=now, since=since)
        tr = ctx.translator
        buttons = [[
            {"text": tr.gettext(language, N_("💳 Top up")),
             "callback_data": TOPUP_CALLBACK.format(account_id=account.id)},
            {"text": tr.gettext(language, N_("📊 Balance")),
             "callback_data": VIEW_CALLBACK.format(account_id=account.id)},
        ]]
        outbox.enqueue(session, resident_id=resident_id, kind=f"alert.{kind}", now=now,
                       payload=outbox.message_payload(text, buttons=buttons),
                       dedupe_key=f"alert:{kind}:{account.id}:{resident_id}:{local(now).date().isoformat()}")
        sent += 1
    return sent


def alert_text(ctx: AppContext, account: UtilityAccount, summary: accounts.AccountSummary, kind: str,
               language: str | None, *, now: datetime, since: datetime | None = None) -> str:
    """The alert in the resident's language (amounts and dates formatted with Babel)."""
    tr = ctx.translator
    utility = tr.gettext(language, accounts.UTILITY_LABELS[account.utility])
    if kind == LOW_CREDIT:
        if summary.days_left is not None:
            text = tr.gettext(language, N_(
                "🔔 Low credit on your {utility} account {number}: {credit} left, enough for about {days} days "
                "at your recent use. Please top up in time to avoid an interruption."))
        else:
            text = tr.gettext(language, N_(
                "🔔 Low credit on your {utility} account {number}: {credit} left. "
                "Please top up in time to avoid an interruption."))
        text = text.format(utility=utility, number=account.number, credit=ledger.format_fen(summary.credit_fen,
                           language), days=summary.days_left)
        if account.meter_type is MeterType.ic_card:
            text += "\n\n" + ic_card_note(ctx, language)
        return text
    amount = ledger.format_fen(summary.arrears_fen, language)
    since_text = accounts.format_day(since or now, language)
    hotline = html.escape(ctx.catalogue.value("hotline", language), quote=False)
    if account.state is AccountState.sealed:
        text = tr.gettext(language, N_(
            "📮 Payment notice for your {utility} account {number}: {amount} unpaid since {since}. "
            "The supply is sealed for arrears. After paying, please register for reconnection "
            "(call {hotline} or visit a service hall); reconnections are made in order of registration."))
        return text.format(utility=utility, number=account.number, amount=amount, since=since_text, hotline=hotline)
    cutoff = accounts.format_day(local(now).date() + CUTOFF_AFTER_NOTICE, language)
    text = tr.gettext(language, N_(
        "📮 Payment notice for your {utility} account {number}: {amount} unpaid since {since}. "
        "Please pay as soon as you can. The supply may be suspended for arrears, but not before {cutoff}. "
        "If it is suspended, register for reconnection after paying (call {hotline} or visit a service hall); "
        "reconnections are made in order of registration."))
    return text.format(utility=utility, number=account.number, amount=amount, since=since_text, cutoff=cutoff,
                       hotline=hotline)


def ic_card_note(ctx: AppContext, language: str | None) -> str:
    """R1 honesty for IC-card meters: money paid online must still be written onto the card, and where."""
    tr = ctx.translator
    note = tr.gettext(language, N_("💳 IC-card meter: {how}. Service halls: {hall_main}; {hall_east} ({hours})."))

    def value(name: str) -> str:
        return html.escape(ctx.catalogue.value(name, language), quote=False)

    return note.format(how=value("gas_ic_online_note").rstrip("。."), hall_main=value("hall_main"),
                       hall_east=value("hall_east"), hours=value("hall_hours"))

"""R18 service targets (seed 000 ch.1), measured from the records for a report period, with the counts behind
each figure so a supervisor can check it:

* reading rate 100 % — accounts that should have been read (connected, and connected before the month; vacant,
  dismantled, suspended and sealed accounts are not read: seed 000 "应抄表客户") that have a reading in the
  month, for each month whose 6th–26th reading window (R17) closed inside the period (if none did, the last
  one that closed before the period ended);
* reading accuracy ≥ 98 % — readings of those months not found wrong by an R12 re-read;
* repair timeliness 100 % — repair orders resolved in the period by their deadline;
* first-time fix ≥ 96 % — of repairs with a recorded outcome, those fixed on the first visit (R7);
* planned follow-up rate 100 % — R7 call-backs after repairs, due in the period, done by their deadline;
* satisfaction ≥ 99.5 % — answered R4 follow-ups in the period that were satisfied (neither rating ≤ 6).

Plus R7's emergency on-time arrival against 99 %. A target with no data in the period shows "no data",
never a made-up 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import repairs
from core.account_states import READING_WINDOW
from core.clock import LOCAL_TZ, local
from core.reports import LOW_SCORE, Period
from db.enums import AccountState, CorrectionStatus, TicketKind, TicketStatus
from db.models import BillCorrection, MeterReading, Survey, Ticket, UtilityAccount

DONE = (TicketStatus.resolved, TicketStatus.closed)


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    rule: str
    target: float  # percent
    at_least: bool  # "≥ target" (False: exactly 100 % is the target)
    part: int
    whole: int
    basis: str  # what part / whole count

    @property
    def value(self) -> float | None:
        return round(100.0 * self.part / self.whole, 2) if self.whole else None

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.target

    @property
    def target_label(self) -> str:
        return f"≥ {self.target:g} %" if self.at_least else f"{self.target:g} %"


def _month_starts(period: Period, now: datetime) -> list[date]:
    """Months whose reading window closed (its 26th is over) inside the period; if none did (the last
    30 days seen on a 26th, or a period shorter than a month), the last one that closed before the period
    ended, so the reading targets always speak of the latest finished round."""
    today = local(now).date()
    out = []
    d = period.start.replace(day=1)
    while d <= period.end:
        close = d.replace(day=READING_WINDOW[1])
        if period.start <= close <= period.end and close < today:
            out.append(d)
        d = _month_bounds(d)[1]
    if not out:
        d = period.end.replace(day=1)
        while (close := d.replace(day=READING_WINDOW[1])) > period.end or close >= today:
            d = (d - timedelta(days=1)).replace(day=1)  # the month before
        out.append(d)
    return out


def _month_bounds(start: date) -> tuple[date, date]:
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, nxt


async def _readings(session: AsyncSession, period: Period, now: datetime) -> tuple[int, int, int, int]:
    """(read, due, correct, readings) over the months whose window closed in the period."""
    read = due = wrong = readings = 0
    for month in _month_starts(period, now):
        first, nxt = _month_bounds(month)
        month_start = datetime.combine(first, time.min, tzinfo=LOCAL_TZ)
        due_accounts = (select(UtilityAccount.id)
                        .where(UtilityAccount.state == AccountState.connected, UtilityAccount.created_at < month_start))
        in_month = and_(MeterReading.read_on >= first, MeterReading.read_on < nxt)
        due += int((await session.execute(select(func.count()).select_from(due_accounts.subquery()))).scalar_one())
        read += int((await session.execute(
            select(func.count(func.distinct(MeterReading.account_id)))
            .where(in_month, MeterReading.account_id.in_(due_accounts)))).scalar_one())
        readings += int((await session.execute(select(func.count()).where(in_month))).scalar_one())
        wrong += int((await session.execute(
            select(func.count()).select_from(BillCorrection)
            .join(MeterReading, MeterReading.id == BillCorrection.reading_id)
            .where(in_month, BillCorrection.status != CorrectionStatus.reread,
                   BillCorrection.corrected_usage_milli.is_not(None),
                   BillCorrection.corrected_usage_milli != BillCorrection.suspicious_usage_milli))).scalar_one())
    return read, due, readings - wrong, readings


async def _followups(session: AsyncSession, period: Period, now: datetime) -> tuple[int, int]:
    """R7 call-backs due in the period (deadline passed): (done by the deadline, due)."""
    rows = (await session.execute(
        select(Ticket.status, Ticket.resolved_at, Ticket.closed_at, Ticket.deadline_at).where(
            Ticket.kind == TicketKind.callback, Ticket.repair_of_id.is_not(None),
            Ticket.deadline_at >= period.since, Ticket.deadline_at < min(period.until, now),
            Ticket.status.not_in((TicketStatus.cancelled, TicketStatus.duplicate))))).all()
    done = sum(1 for status, resolved, closed, deadline in rows
               if status in DONE and (finished := resolved or closed) is not None and finished <= deadline)
    return done, len(rows)


async def _satisfied(session: AsyncSession, period: Period, now: datetime) -> tuple[int, int]:
    answered = and_(Survey.answered_at.is_not(None), Survey.attitude.is_not(None), Survey.ability.is_not(None),
                    Survey.sent_at >= period.since, Survey.sent_at < period.until, Survey.sent_at <= now)
    total = int((await session.execute(select(func.count()).where(answered))).scalar_one())
    good = int((await session.execute(select(func.count()).where(
        answered, Survey.attitude > LOW_SCORE, Survey.ability > LOW_SCORE))).scalar_one())
    return good, total


async def measure(session: AsyncSession, *, period: Period, now: datetime) -> list[Target]:
    """Every R18 target (and R7's emergency arrival) beside its measured value for the period."""
    read, due, correct, readings = await _readings(session, period, now)
    rep = await repairs.figures(session, start=period.since, end=min(period.until, now))
    follow_done, follow_due = await _followups(session, period, now)
    good, answered = await _satisfied(session, period, now)
    return [
        Target("reading_rate", "Reading rate · 抄表率", "R18", 100, False, read, due,
               "accounts read / accounts due for reading (months whose 6th–26th window closed in the period, "
               "else the last one before its end)"),
        Target("reading_accuracy", "Reading accuracy · 抄表准确率", "R18", 98, True, correct, readings,
               "readings not corrected by an R12 re-read / readings"),
        Target("repair_timeliness", "Repair timeliness · 维修及时率", "R18", 100, False, rep.completed_in_time,
               rep.repairs_completed, "repairs done by their deadline / repairs done"),
        Target("first_time_fix", "First-time fix · 一次性维修合格率", "R18", 96, True, rep.fixed_first_visit,
               rep.with_outcome, "fixed on the first visit / repairs with a recorded outcome"),
        Target("followup_rate", "Planned follow-up rate · 计划客户回访率", "R18", 100, False, follow_done, follow_due,
               "R7 call-backs done by their deadline / call-backs due"),
        Target("satisfaction", "Satisfaction · 客户服务满意率", "R18", 99.5, True, good, answered,
               "satisfied follow-ups (both R4 ratings ≥ 7) / answered follow-ups"),
        Target("emergency_arrival", "Emergency on-time arrival · 抢修到达及时率", "R7", 99, True,
               rep.emergencies_on_time, rep.emergencies_arrived,
               f"emergencies reached within {int(repairs.EMERGENCY_ARRIVAL.total_seconds() // 60)} min / emergencies"),
    ]

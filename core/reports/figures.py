"""The figures on the reports page: on time (R3/R7/R10, R2), R4 satisfaction, volumes, deflection and
the top unanswered questions, and ``build`` for the whole page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.reports.base import BOT_ANSWERED, LOW_SCORE, NOT_DUE, UNANSWERED, Period, question_key, rate
from db.enums import OPEN_TICKET_STATUSES, AppointmentStatus, QuestionOutcome
from db.models import Appointment, AppointmentEvent, Conversation, QuestionLog, StaffUser, Survey, Ticket

# -- on time ---------------------------------------------------------------------------------------------------

@dataclass
class OnTimeRow:
    label: str
    due: int = 0  # deadline fell in the period (and has passed)
    on_time: int = 0  # resolved/closed no later than the deadline
    late_done: int = 0  # resolved after the deadline
    overdue_open: int = 0  # still open past the deadline

    @property
    def rate(self) -> float | None:
        return rate(self.on_time, self.due)


@dataclass
class OnTime:
    total: OnTimeRow
    by_kind: list[OnTimeRow]
    series: list[tuple[date, float | None, int]]  # bucket, rate, due


async def on_time(session: AsyncSession, *, period: Period, now: datetime) -> OnTime:
    """Of the tickets whose deadline fell in the period and has passed: how many were finished in time."""
    until = min(period.until, now)
    rows = (await session.execute(
        select(Ticket.kind, Ticket.status, Ticket.deadline_at, Ticket.resolved_at, Ticket.closed_at)
        .where(Ticket.deadline_at >= period.since, Ticket.deadline_at < until, Ticket.status.not_in(NOT_DUE))
    )).all()
    total = OnTimeRow("all")
    kinds: dict[str, OnTimeRow] = {}
    series: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for kind, status, deadline, resolved, closed in rows:
        done = resolved or closed
        row = kinds.setdefault(str(kind), OnTimeRow(str(kind)))
        ok = done is not None and done <= deadline
        for r in (total, row):
            r.due += 1
            if ok:
                r.on_time += 1
            elif done is not None:
                r.late_done += 1
            elif status in OPEN_TICKET_STATUSES:
                r.overdue_open += 1
        b = series[period.bucket(deadline)]
        b[0] += 1
        b[1] += ok
    return OnTime(total, sorted(kinds.values(), key=lambda r: -r.due),
                  [(b, rate(series[b][1], series[b][0]), series[b][0]) for b in period.buckets()])


# -- R4 satisfaction -------------------------------------------------------------------------------------------

@dataclass
class SatisfactionRow:
    label: str
    sent: int = 0
    answered: int = 0
    attitude: float | None = None
    ability: float | None = None
    low: int = 0

    @property
    def score(self) -> float | None:
        """R4: final score = mean of the two means (1–10)."""
        if self.attitude is None or self.ability is None:
            return None
        return round((self.attitude + self.ability) / 2, 2)

    @property
    def percent(self) -> float | None:
        return None if self.score is None else round(self.score * 10, 1)

    @property
    def response_rate(self) -> float | None:
        return rate(self.answered, self.sent)


@dataclass
class Satisfaction:
    total: SatisfactionRow
    by_agent: list[SatisfactionRow]
    by_category: list[SatisfactionRow]
    series: list[tuple[date, float | None, int]]  # bucket, score, answered


def _sat_columns() -> tuple[ColumnElement[Any], ...]:
    answered = Survey.answered_at.is_not(None)
    return (
        func.count(),
        func.sum(case((answered, 1), else_=0)),
        func.avg(case((answered, Survey.attitude))),
        func.avg(case((answered, Survey.ability))),
        func.sum(case((and_(answered, (Survey.attitude <= LOW_SCORE) | (Survey.ability <= LOW_SCORE)), 1),
                      else_=0)),
    )


def _sat_row(label: str, values: Sequence[Any]) -> SatisfactionRow:
    sent, answered, att, abl, low = values
    return SatisfactionRow(label, int(sent or 0), int(answered or 0),
                           None if att is None else round(float(att), 2),
                           None if abl is None else round(float(abl), 2), int(low or 0))


async def satisfaction(session: AsyncSession, *, period: Period, now: datetime) -> Satisfaction:
    """R4 satisfaction of surveys sent in the period: mean attitude, mean ability, score = mean of the two."""
    where = (Survey.sent_at >= period.since, Survey.sent_at < period.until, Survey.sent_at <= now)
    total = _sat_row("all", (await session.execute(select(*_sat_columns()).where(*where))).one())
    agents = (await session.execute(
        select(Survey.staff_id, StaffUser.display_name, *_sat_columns())
        .outerjoin(StaffUser, StaffUser.id == Survey.staff_id).where(*where)
        .group_by(Survey.staff_id, StaffUser.display_name)
    )).all()
    by_agent = [_sat_row(r[1] or "(no agent)", tuple(r[2:])) for r in agents]
    cats = (await session.execute(select(Survey.category, *_sat_columns()).where(*where)
                                  .group_by(Survey.category))).all()
    by_category = [_sat_row(str(r[0]), tuple(r[1:])) for r in cats]
    answers = (await session.execute(
        select(Survey.answered_at, Survey.attitude, Survey.ability)
        .where(*where, Survey.answered_at.is_not(None))
    )).all()
    sums: dict[date, list[float]] = defaultdict(lambda: [0.0, 0])
    for at, att, abl in answers:
        if at is None or att is None or abl is None:
            continue
        b = sums[period.bucket(at)]
        b[0] += (att + abl) / 2
        b[1] += 1
    series = [(b, round(sums[b][0] / sums[b][1], 2) if sums[b][1] else None, int(sums[b][1]))
              for b in period.buckets()]
    key = lambda r: (r.score is None, -(r.score or 0), r.label)  # noqa: E731
    return Satisfaction(total, sorted(by_agent, key=key), sorted(by_category, key=key), series)


# -- volumes ---------------------------------------------------------------------------------------------------

@dataclass
class Volumes:
    by_kind: dict[str, int]
    by_utility: dict[str, int]
    matrix: dict[tuple[str, str], int]  # (kind, utility) -> count
    conversations: int
    appointments: int
    series: list[tuple[date, int]]


async def volumes(session: AsyncSession, *, period: Period) -> Volumes:
    """Tickets created in the period by kind and utility, and chats and visit requests alongside."""
    where = (Ticket.created_at >= period.since, Ticket.created_at < period.until)
    rows = (await session.execute(
        select(Ticket.kind, Ticket.utility, func.count()).where(*where).group_by(Ticket.kind, Ticket.utility)
    )).all()
    by_kind: Counter[str] = Counter()
    by_utility: Counter[str] = Counter()
    matrix: dict[tuple[str, str], int] = {}
    for kind, utility, n in rows:
        u = str(utility) if utility else "general"
        by_kind[str(kind)] += n
        by_utility[u] += n
        matrix[(str(kind), u)] = matrix.get((str(kind), u), 0) + n
    convs = (await session.execute(select(func.count()).select_from(Conversation).where(
        Conversation.created_at >= period.since, Conversation.created_at < period.until))).scalar_one()
    appts = (await session.execute(select(func.count()).select_from(Appointment).where(
        Appointment.created_at >= period.since, Appointment.created_at < period.until))).scalar_one()
    created = (await session.execute(select(Ticket.created_at).where(*where))).scalars().all()
    per: Counter[date] = Counter(period.bucket(c) for c in created)
    return Volumes(dict(by_kind.most_common()), dict(by_utility.most_common()), matrix, convs, appts,
                   [(b, per.get(b, 0)) for b in period.buckets()])


# -- the bot on its own ----------------------------------------------------------------------------------------

@dataclass
class Deflection:
    questions: int
    answered_alone: int
    unanswered: int
    handed_off: int
    by_outcome: dict[str, int]
    series: list[tuple[date, float | None, int]]

    @property
    def rate(self) -> float | None:
        return rate(self.answered_alone, self.questions)


async def deflection(session: AsyncSession, *, period: Period) -> Deflection:
    """Share of residents' questions the bot answered without a person (question_log outcomes)."""
    where = (QuestionLog.created_at >= period.since, QuestionLog.created_at < period.until)
    rows = (await session.execute(select(QuestionLog.outcome, func.count()).where(*where)
                                  .group_by(QuestionLog.outcome))).all()
    by_outcome = {str(o): n for o, n in rows}
    total = sum(by_outcome.values())
    alone = sum(by_outcome.get(str(o), 0) for o in BOT_ANSWERED)
    unanswered = sum(by_outcome.get(str(o), 0) for o in (QuestionOutcome.no_match, QuestionOutcome.ambiguous))
    handed = by_outcome.get(str(QuestionOutcome.handed_off), 0)
    items = (await session.execute(select(QuestionLog.created_at, QuestionLog.outcome).where(*where))).all()
    per: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for at, outcome in items:
        b = per[period.bucket(at)]
        b[0] += 1
        b[1] += outcome in BOT_ANSWERED
    return Deflection(total, alone, unanswered, handed, by_outcome,
                      [(b, rate(per[b][1], per[b][0]), per[b][0]) for b in period.buckets()])


@dataclass
class Unanswered:
    text: str  # the most recent spelling
    count: int
    last_at: datetime
    outcome: str
    ids: list[int] = field(default_factory=list)  # question_log ids (newest first), for linking to a topic
    language: str = "zh_Hans"
    suggested_topic: str | None = None


async def top_unanswered(session: AsyncSession, *, period: Period, limit: int = 20,
                         scan: int = 20000) -> list[Unanswered]:
    """The questions the bot could not answer, most frequent first (the newest ``scan`` log rows)."""
    rows = (await session.execute(
        select(QuestionLog.id, QuestionLog.text, QuestionLog.created_at, QuestionLog.outcome, QuestionLog.language,
               QuestionLog.suggested_topic)
        .where(QuestionLog.created_at >= period.since, QuestionLog.created_at < period.until,
               QuestionLog.outcome.in_(UNANSWERED))
        .order_by(QuestionLog.id.desc()).limit(scan)
    )).all()
    groups: dict[str, Unanswered] = {}
    for qid, text, at, outcome, lang, suggested in rows:
        key = question_key(text)
        if not key:
            continue
        g = groups.get(key)
        if g is None:
            groups[key] = Unanswered(text[:300], 1, at, str(outcome), [qid], lang or "zh_Hans", suggested)
        else:
            g.count += 1
            g.ids.append(qid)
            g.suggested_topic = g.suggested_topic or suggested
    return sorted(groups.values(), key=lambda g: (-g.count, -g.last_at.timestamp()))[:limit]


# -- one call for the page ---------------------------------------------------------------------------------------

@dataclass
class Report:
    period: Period
    on_time: OnTime
    satisfaction: Satisfaction
    volumes: Volumes
    deflection: Deflection
    unanswered: list[Unanswered]
    appointments_answered_in_time: float | None = None


async def build(session: AsyncSession, *, period: Period, now: datetime) -> Report:
    report = Report(period, await on_time(session, period=period, now=now),
                    await satisfaction(session, period=period, now=now), await volumes(session, period=period),
                    await deflection(session, period=period), await top_unanswered(session, period=period))
    report.appointments_answered_in_time = await _appointments_in_time(session, period=period, now=now)
    return report


async def _appointments_in_time(session: AsyncSession, *, period: Period, now: datetime) -> float | None:
    """R2: share of visit requests answered (no longer 'requested') by their respond-by time.

    Answer time is the first status event; a request still waiting past its time counts as late."""
    first_answer = (
        select(AppointmentEvent.appointment_id, func.min(AppointmentEvent.at).label("at"))
        .where(AppointmentEvent.kind.in_(("status", "proposed")), AppointmentEvent.staff_id.is_not(None))
        .group_by(AppointmentEvent.appointment_id).subquery()
    )
    rows = (await session.execute(
        select(Appointment.respond_by, Appointment.status, first_answer.c.at)
        .outerjoin(first_answer, first_answer.c.appointment_id == Appointment.id)
        .where(Appointment.respond_by >= period.since, Appointment.respond_by < min(period.until, now))
    )).all()
    due = ok = 0
    for respond_by, status, answered_at in rows:
        if status is AppointmentStatus.cancelled and answered_at is None:
            continue  # withdrawn by the resident before we had to answer
        due += 1
        ok += answered_at is not None and answered_at <= respond_by
    return rate(ok, due)

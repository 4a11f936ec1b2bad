"""R4 follow-up surveys: who is asked, the two 1–10 ratings, low scores to a supervisor, satisfaction.

Sampling is decided once, when the work is reported done (ticket resolved, visit completed), in the same
transaction: the survey row and its outbox message (due 3–5 days later, R4) are written together, so a
survey is never lost nor sent twice; reopening the ticket before it is delivered withdraws it. An
installation (ignition) is also followed up one month after acceptance; a resident never has two surveys
open at once. The sampler is injectable
(``ctx.extras["survey_sampler"]``, a ``(rate, key) -> bool``); the default hashes the reference number,
so the decision is reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.clock import local
from core.context import AppContext
from core.tickets.base import create_ticket, publish
from db.enums import OutboxStatus, Priority, ServiceType, TicketKind
from db.models import Appointment, OutboxNotification, Resident, StaffUser, Survey, Ticket, TicketEvent


def N_(message: str) -> str:
    return message


class R4Category(StrEnum):
    leak_repair = "leak_repair"
    paid_repair = "paid_repair"
    appliance_repair = "appliance_repair"
    complaint = "complaint"
    small_installation = "small_installation"
    ignition = "ignition"
    free_repair = "free_repair"
    safety_inspection = "safety_inspection"
    installation_month = "installation_month"  # R4: one month after acceptance of an installation


# R4 sampling rates of completed work.
RATES: dict[R4Category, float] = {
    R4Category.leak_repair: 1.0,
    R4Category.paid_repair: 1.0,
    R4Category.appliance_repair: 1.0,
    R4Category.complaint: 1.0,  # R4: follow up after complaints
    R4Category.small_installation: 0.1,
    R4Category.ignition: 0.1,
    R4Category.free_repair: 0.1,
    R4Category.safety_inspection: 0.1,
    R4Category.installation_month: 1.0,
}

LOW_SCORE = 6  # a rating at or below this opens a follow-up task for a supervisor
VALID_FOR = timedelta(days=14)  # an unanswered survey expires
MAX_COMMENT = 1000
# R4: completed work is followed up 3–5 days later, not at once (the resident has lived with the repair);
# an installation also one month after its acceptance. Surveys go out in the daytime.
DELAY = timedelta(days=3)
MONTH_AFTER = timedelta(days=30)
SEND_FROM, SEND_UNTIL, SEND_AT = time(9, 0), time(20, 0), time(10, 0)
# Installations whose completed visit is their acceptance (the gas is turned on for the first time).
INSTALLATION_SERVICES = frozenset({ServiceType.ignition})


def send_time(done_at: datetime, delay: timedelta = DELAY) -> datetime:
    """``delay`` after the work was done, moved into the daytime: always 3 days to 3 days 14 hours later."""
    at = local(done_at + delay)
    if at.time() < SEND_FROM:
        at = at.replace(hour=SEND_AT.hour, minute=0, second=0, microsecond=0)
    elif at.time() >= SEND_UNTIL:
        at = (at + timedelta(days=1)).replace(hour=SEND_AT.hour, minute=0, second=0, microsecond=0)
    return at


class Question(StrEnum):
    attitude = "a"
    ability = "b"
    comment = "c"  # score 0 = skip the comment


CALLBACK_PREFIX = "srv"


def callback_data(survey_id: int, question: Question, score: int) -> str:
    """Button data; bot.routers.survey.SurveyCallback packs to exactly this (a test checks it)."""
    return f"{CALLBACK_PREFIX}:{survey_id}:{question.value}:{score}"


def rating_buttons(survey_id: int, question: Question) -> list[list[dict[str, Any]]]:
    row1 = [{"text": str(n), "callback_data": callback_data(survey_id, question, n)} for n in range(1, 6)]
    row2 = [{"text": str(n), "callback_data": callback_data(survey_id, question, n)} for n in range(6, 11)]
    return [row1, row2]


Sampler = Callable[[float, str], bool]


def hash_sampler(rate: float, key: str) -> bool:
    """Deterministic: the same reference is always in or out of the sample."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    bucket = int(hashlib.sha256(f"r4:{key}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return bucket < rate


def _sampler(ctx: AppContext) -> Sampler:
    return ctx.extras.get("survey_sampler") or hash_sampler


def ticket_category(ticket: Ticket, *, paid: bool = False) -> R4Category | None:
    if ticket.kind is TicketKind.complaint:
        return R4Category.complaint
    if ticket.kind is not TicketKind.fault:
        return None  # call-backs, inquiries and follow-ups themselves are not surveyed
    if ticket.category in ("gas_leak", "water_leak"):
        return R4Category.leak_repair
    return R4Category.paid_repair if paid else R4Category.free_repair


def appointment_category(appt: Appointment, *, paid: bool = False) -> R4Category | None:
    service = ServiceType(appt.service)
    if paid:
        return R4Category.paid_repair
    return {
        ServiceType.ignition: R4Category.ignition,
        ServiceType.safety_inspection: R4Category.safety_inspection,
        ServiceType.appliance_repair: R4Category.appliance_repair,
        ServiceType.meter_check: R4Category.small_installation,
        ServiceType.modification_survey: R4Category.small_installation,
    }.get(service)


@dataclass(frozen=True)
class Decision:
    category: str | None
    sampled: bool
    survey_id: int | None = None
    skipped: str | None = None  # "pending": the resident already has a survey open at that time (R4)

    def as_dict(self) -> dict[str, Any]:
        out = {"r4": self.category, "sampled": self.sampled, "survey_id": self.survey_id}
        if self.skipped:
            out["skipped"] = self.skipped
        return out


FIRST_QUESTION = N_("⭐ Please rate our service for {number}. Your honest answer helps us improve; "
                    "there is no right or wrong score.\n\n<b>1/2 Service attitude</b>: how were you treated? "
                    "(1 = very poor, 10 = excellent)")
SECOND_QUESTION = N_("⭐ Thank you. <b>2/2 Professional ability</b>: was the work done well? "
                     "(1 = very poor, 10 = excellent)")


async def _schedule(
    session: AsyncSession, *, ctx: AppContext, resident_id: int | None, language: str, number: str,
    category: R4Category | None, key: str, now: datetime, staff_id: int | None, ticket_id: int | None = None,
    appointment_id: int | None = None,
) -> Decision:
    if category is None or resident_id is None:
        return Decision(None if category is None else category.value, False)
    rate = RATES[category]
    if rate < 1 and not _sampler(ctx)(rate, key):  # 100 % categories are never left to chance
        return Decision(category.value, False)
    resident = await session.get(Resident, resident_id)
    if resident is None or resident.blocked:
        return Decision(category.value, False)
    at = send_time(now, MONTH_AFTER if category is R4Category.installation_month else DELAY)
    if await pending_at(session, resident_id=resident_id, at=at):
        return Decision(category.value, False, skipped="pending")  # R4: one open survey per resident at a time
    survey = Survey(resident_id=resident_id, ticket_id=ticket_id, appointment_id=appointment_id, staff_id=staff_id,
                    category=category.value, sent_at=at)
    session.add(survey)
    await session.flush()
    text = ctx.translator.gettext(language, FIRST_QUESTION).format(number=number)
    # Priority below status messages, so a notice queued for the same moment still goes first.
    outbox.enqueue(session, resident_id=resident_id, kind="survey", now=now, not_before=at, priority=-1,
                   payload=outbox.message_payload(text, buttons=rating_buttons(survey.id, Question.attitude)),
                   dedupe_key=f"survey:{survey.id}")
    return Decision(category.value, True, survey.id)


async def pending_at(session: AsyncSession, *, resident_id: int, at: datetime) -> bool:
    """R4: would a survey sent at ``at`` be open at the same time as another unanswered one (each is open from
    its sending for VALID_FOR)?"""
    row = await session.execute(
        select(Survey.id).where(Survey.resident_id == resident_id, Survey.answered_at.is_(None),
                                Survey.sent_at < at + VALID_FOR, Survey.sent_at > at - VALID_FOR).limit(1)
    )
    return row.first() is not None


async def schedule_for_ticket(
    session: AsyncSession, *, ctx: AppContext, ticket: Ticket, paid: bool = False, staff: StaffUser | None = None,
    now: datetime,
) -> Decision:
    """Decide (once) whether this resolved ticket is followed up, and queue the survey if so."""
    return await _schedule(session, ctx=ctx, resident_id=ticket.resident_id, language=ticket.language,
                           number=ticket.number, category=ticket_category(ticket, paid=paid), key=ticket.number,
                           now=now, staff_id=ticket.owner_id or (staff.id if staff else None), ticket_id=ticket.id)


async def schedule_for_appointment(
    session: AsyncSession, *, ctx: AppContext, appt: Appointment, paid: bool = False, staff: StaffUser | None = None,
    now: datetime,
) -> Decision:
    decision = await _schedule(session, ctx=ctx, resident_id=appt.resident_id, language=appt.language,
                               number=appt.number, category=appointment_category(appt, paid=paid), key=appt.number,
                               now=now, staff_id=appt.owner_id or (staff.id if staff else None),
                               appointment_id=appt.id)
    if ServiceType(appt.service) in INSTALLATION_SERVICES:  # R4: and one month after acceptance, always
        await _schedule(session, ctx=ctx, resident_id=appt.resident_id, language=appt.language, number=appt.number,
                        category=R4Category.installation_month, key=appt.number, now=now,
                        staff_id=appt.owner_id or (staff.id if staff else None), appointment_id=appt.id)
    return decision


async def cancel_pending(session: AsyncSession, *, ticket_id: int | None = None,
                         appointment_id: int | None = None) -> int:
    """Withdraw surveys not yet answered (the work was reopened); their unsent messages are cancelled."""
    query = select(Survey).where(Survey.attitude.is_(None), Survey.answered_at.is_(None))
    if ticket_id is not None:
        query = query.where(Survey.ticket_id == ticket_id)
    elif appointment_id is not None:
        query = query.where(Survey.appointment_id == appointment_id)
    else:
        return 0
    surveys = list((await session.execute(query)).scalars())
    for s in surveys:
        await session.execute(
            update(OutboxNotification)
            .where(OutboxNotification.dedupe_key == f"survey:{s.id}", OutboxNotification.status == OutboxStatus.pending)
            .values(status=OutboxStatus.cancelled)
        )
    if surveys:
        await session.execute(delete(Survey).where(Survey.id.in_([s.id for s in surveys])))
    return len(surveys)


# --- answers ------------------------------------------------------------------------------------------------


class SurveyError(Exception):
    """Why a rating was not taken; ``code`` lets the bot choose the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # unknown | expired | answered | order | invalid


@dataclass
class RatingResult:
    survey: Survey
    done: bool  # both ratings given
    followup: Ticket | None = None


def _number_of(survey: Survey, ticket: Ticket | None, appt: Appointment | None) -> str:
    return ticket.number if ticket is not None else (appt.number if appt is not None else f"#{survey.id}")


async def _own_survey(session: AsyncSession, survey_id: int, resident_id: int, now: datetime) -> Survey:
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.resident_id != resident_id:
        raise SurveyError("unknown")
    if survey.sent_at > now + timedelta(minutes=1):
        raise SurveyError("unknown")  # not delivered yet: nobody can have seen its buttons
    if now - survey.sent_at > VALID_FOR and survey.answered_at is None:
        raise SurveyError("expired")
    return survey


async def record_rating(
    session: AsyncSession, *, ctx: AppContext, survey_id: int, resident: Resident, question: Question | str, score: int,
) -> RatingResult:
    """Store one 1–10 rating. Attitude first, then ability; a rating may be changed until both are given."""
    question = Question(question)
    if question is Question.comment or not 1 <= int(score) <= 10:
        raise SurveyError("invalid")
    now = ctx.clock.now()
    survey = await _own_survey(session, survey_id, resident.id, now)
    if survey.answered_at is not None:
        raise SurveyError("answered")
    if question is Question.attitude:
        survey.attitude = int(score)
        await session.commit()
        return RatingResult(survey, False)
    if survey.attitude is None:
        raise SurveyError("order")
    survey.ability = int(score)
    survey.answered_at = now
    followup = None
    if min(survey.attitude, survey.ability) <= LOW_SCORE:
        followup = await _open_followup(session, ctx=ctx, survey=survey, resident=resident)
    await session.commit()
    await publish(ctx, "surveys", action="answered", survey_id=survey.id, low=followup is not None)
    return RatingResult(survey, True, followup)


async def _open_followup(session: AsyncSession, *, ctx: AppContext, survey: Survey, resident: Resident) -> Ticket:
    """R4: a low score becomes a supervisor's follow-up task (never a request to change the score)."""
    ticket = await session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    appt = await session.get(Appointment, survey.appointment_id) if survey.appointment_id else None
    number = _number_of(survey, ticket, appt)
    description = (f"R4 follow-up for {number}: service attitude {survey.attitude}/10, "
                   f"professional ability {survey.ability}/10.")
    # create_ticket commits; the survey's answer is committed with it.
    return await create_ticket(
        session, ctx=ctx, kind=TicketKind.followup, resident=resident,
        subject=f"低分回访 Low satisfaction: {number}", description=description, priority=Priority.high,
        idempotency_key=f"followup:{survey.id}", notify=False, contact_name=resident.first_name,
        account_id=(ticket.account_id if ticket else (appt.account_id if appt else None)),
        contact_phone=(ticket.contact_phone if ticket else (appt.contact_phone if appt else None)),
    )


async def add_comment(session: AsyncSession, *, ctx: AppContext, survey_id: int, resident: Resident,
                      text: str) -> Survey:
    """The optional comment after the two ratings; copied to the follow-up task when there is one."""
    text = (text or "").strip()
    if not text or len(text) > MAX_COMMENT:
        raise SurveyError("invalid")
    now = ctx.clock.now()
    survey = await _own_survey(session, survey_id, resident.id, now)
    if survey.answered_at is None:
        raise SurveyError("order")
    if survey.comment:
        raise SurveyError("answered")
    survey.comment = text
    followup = (await session.execute(
        select(Ticket).where(Ticket.idempotency_key == f"followup:{survey.id}")
    )).scalar_one_or_none()
    if followup is not None:
        session.add(TicketEvent(ticket_id=followup.id, at=now, kind="note", resident_id=resident.id,
                                note=text, data={"source": "survey_comment"}))
    await session.commit()
    return survey


async def survey_number(session: AsyncSession, survey: Survey) -> str:
    ticket = await session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    appt = await session.get(Appointment, survey.appointment_id) if survey.appointment_id else None
    return _number_of(survey, ticket, appt)


# --- the R4 figure ------------------------------------------------------------------------------------------


@dataclass
class Satisfaction:
    """R4: satisfaction of a rating = arithmetic mean of its ratings; final score = mean of the two."""

    sent: int = 0
    answered: int = 0
    attitude: float | None = None
    ability: float | None = None
    score: float | None = None  # (attitude + ability) / 2, on the 1–10 scale
    low: int = 0  # answers with a rating <= LOW_SCORE
    by_category: dict[str, Satisfaction] = field(default_factory=dict)

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def percent(self) -> float | None:
        """The score as a percentage of the best possible (10/10 = 100 %)."""
        return None if self.score is None else round(self.score * 10, 2)


async def satisfaction(
    session: AsyncSession, *, start: datetime | None = None, end: datetime | None = None,
    category: str | None = None, staff_id: int | None = None, now: datetime | None = None,
) -> Satisfaction:
    """R4 satisfaction of surveys sent in [start, end) (optionally one category or one staff member)."""
    filters = []
    if start is not None:
        filters.append(Survey.sent_at >= start)
    if end is not None:
        filters.append(Survey.sent_at < end)
    if now is not None:
        filters.append(Survey.sent_at <= now)  # scheduled but not yet sent do not count
    if category:
        filters.append(Survey.category == category)
    if staff_id is not None:
        filters.append(Survey.staff_id == staff_id)
    answered = Survey.answered_at.is_not(None)
    low = (Survey.attitude <= LOW_SCORE) | (Survey.ability <= LOW_SCORE)
    rows = await session.execute(
        select(
            Survey.category, func.count(),
            func.count().filter(answered),
            func.avg(Survey.attitude).filter(answered),
            func.avg(Survey.ability).filter(answered),
            func.count().filter(answered & low),
        ).where(*filters).group_by(Survey.category)
    )
    total = Satisfaction()
    sums = {"attitude": 0.0, "ability": 0.0}
    for cat, sent, n, att, abl, n_low in rows:
        part = Satisfaction(sent=sent, answered=n, low=n_low)
        if n:
            part.attitude = round(float(att), 2)
            part.ability = round(float(abl), 2)
            part.score = round((float(att) + float(abl)) / 2, 2)
            sums["attitude"] += float(att) * n
            sums["ability"] += float(abl) * n
        total.by_category[cat] = part
        total.sent += sent
        total.answered += n
        total.low += n_low
    if total.answered:
        total.attitude = round(sums["attitude"] / total.answered, 2)
        total.ability = round(sums["ability"] / total.answered, 2)
        total.score = round((sums["attitude"] + sums["ability"]) / (2 * total.answered), 2)
    return total

"""Question log and the small decisions around a free-text question (issue 3).

Every free-text question is stored with the topic, score and outcome (answered / chose /
ambiguous / no_match / handed_off / outage) for the unanswered-questions report and for the
handoff context. Also here: recognising a question about a supply interruption (R9: answer it
with the outage notice), and the R10 callback request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outages import outage_for_resident
from core.safety import detect_emergency, phrase_regex
from core.tickets import create_callback
from db.enums import QuestionOutcome, Utility
from db.models import QuestionLog, Resident
from knowledge.normalize import clean

if TYPE_CHECKING:
    from core.context import AppContext
    from db.models import OutageNotice, Ticket

# Telegram messages are at most 4096 characters; anything longer was not typed in a chat.
MAX_STORED_CHARS = 4096

# Outcomes a later tap may turn a logged question into, and from which earlier outcomes.
_TRANSITIONS: dict[QuestionOutcome, set[QuestionOutcome]] = {
    QuestionOutcome.chose: {QuestionOutcome.ambiguous, QuestionOutcome.chose, QuestionOutcome.none_of_these,
                            QuestionOutcome.not_this},
    QuestionOutcome.none_of_these: {QuestionOutcome.ambiguous, QuestionOutcome.not_this},
    # Only a confident answer can be "not what I asked"; the runner-ups are then offered instead.
    QuestionOutcome.not_this: {QuestionOutcome.answered},
    QuestionOutcome.handed_off: {QuestionOutcome.no_match, QuestionOutcome.ambiguous, QuestionOutcome.answered,
                                 QuestionOutcome.chose, QuestionOutcome.outage, QuestionOutcome.none_of_these,
                                 QuestionOutcome.not_this},
}


async def log_question(
    session: AsyncSession,
    *,
    resident_id: int | None,
    text: str,
    language: str,
    outcome: QuestionOutcome,
    now: datetime,
    topic: str | None = None,
    score: float = 0.0,
    alternatives: Iterable[tuple[str, float]] = (),
) -> QuestionLog:
    """Store one question; commits and returns the row."""
    row = QuestionLog(
        resident_id=resident_id,
        text=text[:MAX_STORED_CHARS],
        language=language,
        topic=topic,
        score=round(float(score), 2),
        outcome=outcome,
        alternatives=[{"topic": s, "score": round(float(v), 1)} for s, v in alternatives],
        created_at=now,
    )
    session.add(row)
    await session.commit()
    return row


async def set_outcome(
    session: AsyncSession, *, question_id: int, resident_id: int, outcome: QuestionOutcome, topic: str | None = None
) -> QuestionLog | None:
    """Record what became of a question (a topic chosen from the buttons, handed to a person).

    Only the resident's own question changes, and only along an allowed transition; returns the
    row, or None when the id is unknown, foreign or the transition is not allowed (forged data).
    """
    row = await session.get(QuestionLog, question_id)
    if row is None or row.resident_id != resident_id or row.outcome not in _TRANSITIONS.get(outcome, set()):
        return None
    row.outcome = outcome
    if topic is not None:
        row.topic = topic
    await session.commit()
    return row


async def get_question(session: AsyncSession, *, question_id: int, resident_id: int) -> QuestionLog | None:
    row = await session.get(QuestionLog, question_id)
    return row if row is not None and row.resident_id == resident_id else None


async def recent_questions(session: AsyncSession, resident_id: int, limit: int = 5) -> list[QuestionLog]:
    """The resident's latest questions, newest first (the handoff context shows the last exchange)."""
    q = (select(QuestionLog).where(QuestionLog.resident_id == resident_id)
         .order_by(QuestionLog.id.desc()).limit(limit))
    return list((await session.execute(q)).scalars())


def offered_topics(row: QuestionLog) -> list[str]:
    """Slugs offered as buttons for an ambiguous question (for an answered one: the answer and its
    runner-ups, offered if the resident says the answer is not what they asked)."""
    return [a["topic"] for a in row.alternatives or [] if isinstance(a, dict) and "topic" in a]


def other_topics(row: QuestionLog, limit: int = 3) -> list[str]:
    """The runner-ups of an answered question: what to offer when the answer was not it."""
    return [slug for slug in offered_topics(row) if slug != row.topic][:limit]


def exchange_summary(row: QuestionLog) -> dict[str, Any]:
    """What the bot was asked and how it answered, for the agent who takes over."""
    return {"question": row.text, "outcome": str(row.outcome), "topic": row.topic, "score": row.score,
            "alternatives": offered_topics(row), "at": row.created_at.isoformat()}


# --- supply interruptions (R9) --------------------------------------------------------------------

# Phrases that ask about a supply being off, per utility. Matched on knowledge.normalize.clean()
# text (simplified Chinese, lower case, punctuation as spaces).
_SUPPLY_CUES: dict[Utility | None, tuple[str, ...]] = {
    Utility.water: ("停水", "没水", "没有水", "断水", "不来水", "没来水", "水停了", "来水",
                    "no water", "water off", "water is off", "water cut", "water outage",
                    "without water", "water shut"),
    Utility.power: ("停电", "没电", "没有电", "断电", "不来电", "没来电", "电停了", "来电", "供电中断",
                    "no power", "power cut", "power outage", "power off", "power is off", "power failure",
                    "blackout", "no electricity", "electricity off", "electricity is off", "electricity cut",
                    "without power", "without electricity", "lights out"),
    Utility.gas: ("停气", "没气", "没有气", "断气", "不来气", "没来气", "气停了", "来气", "停燃气",
                  "no gas", "gas off", "gas is off", "gas cut", "gas outage", "without gas"),
    None: ("停水停电", "停了", "停供", "恢复供", "什么时候恢复", "何时恢复", "outage", "supply cut", "cut off",
           "restored", "restoration", "come back on"),
}
# Chinese phrases match anywhere; English ones on word boundaries ("cut" not in "shortcut").
_SUPPLY_RES = {u: phrase_regex(p) for u, p in _SUPPLY_CUES.items()}


def supply_question(text: str) -> tuple[bool, Utility | None]:
    """Is the question about a supply being off, and of which utility (None = any/unclear)?

    A gas-leak report is never treated as an outage question: safety guidance comes first (R20); the same
    detector as every form's free text decides what is one (core.safety).
    """
    if detect_emergency(text) is not None:
        return False, None
    norm = clean(text, limit=300)
    hits = [u for u, rx in _SUPPLY_RES.items() if u is not None and rx.search(norm)]
    if len(hits) == 1:
        return True, hits[0]
    if hits or _SUPPLY_RES[None].search(norm):
        return True, None
    return False, None


async def outages_for_question(
    session: AsyncSession, *, resident_id: int, text: str, now: datetime
) -> list[OutageNotice]:
    """Active outages at the resident's places that the question is about (R9), else []."""
    about, utility = supply_question(text)
    if not about:
        return []
    return list(await outage_for_resident(session, resident_id=resident_id, now=now, utility=utility))


# --- callbacks (R10) -------------------------------------------------------------------------------

async def request_callback(
    session: AsyncSession,
    *,
    ctx: AppContext,
    resident: Resident,
    question: str,
    phone: str | None,
    idempotency_key: str,
    question_id: int | None = None,
) -> Ticket:
    """Open an R10 callback ticket (answer within 24 h) for a question the bot could not answer.

    The logged question, if any, becomes ``handed_off``. Idempotent on ``idempotency_key``: a
    double tap or a retried update returns the ticket already opened.
    """
    if question_id is not None:
        await set_outcome(session, question_id=question_id, resident_id=resident.id,
                          outcome=QuestionOutcome.handed_off)
    return await create_callback(session, ctx=ctx, resident=resident, question=question, contact_phone=phone,
                                 idempotency_key=idempotency_key, notify=False)

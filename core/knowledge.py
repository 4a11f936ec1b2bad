"""The one outcome function for a resident's free-text question, and learning from residents (issue 14).

* ``resolve()`` — answer / choice / off_topic for the bot, simple mode and the sandbox (which runs
  the real bot); `onestop ask` calls the same ``Matcher.match`` without a database.
* Staff map a question that ended in a choice, "none of these" or a hand-off to a topic in the
  console (``map_question``, audited). The wording becomes a ``knowledge_paraphrase`` row, and every
  process uses it from its next question on: ``resolve`` reads ``max(id)`` of that table (one
  primary-key read) and rebuilds its matcher with the paraphrases when the number changed — no
  restart, no message bus.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from db.enums import QuestionOutcome
from db.models import KnowledgeParaphrase, QuestionLog, StaffUser
from knowledge.matcher import Matcher, MatchResult

if TYPE_CHECKING:
    from core.context import AppContext

_STATE_KEY = "knowledge.live_matcher"
MAX_PARAPHRASE = 200

# Outcomes staff can learn from: the resident was offered a choice (and what they picked), said
# none fits or that a confident answer was not what they asked, was handed to a person, or was
# not understood.
LEARN_FROM = (QuestionOutcome.ambiguous, QuestionOutcome.chose, QuestionOutcome.none_of_these,
              QuestionOutcome.not_this, QuestionOutcome.handed_off, QuestionOutcome.no_match)


class MappingError(ValueError):
    """A mapping that cannot be made; the message is shown to staff."""


async def paraphrase_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(KnowledgeParaphrase.id))) or 0)


async def live_matcher(session: AsyncSession, ctx: AppContext) -> Matcher:
    """The matcher with every paraphrase staff have mapped so far (any process, no restart)."""
    version = await paraphrase_version(session)
    if version == 0:
        return ctx.matcher
    state = ctx.extras.get(_STATE_KEY)
    base = ctx.matcher
    if state is not None and state[0] == version and state[1] is base:
        live: Matcher = state[2]  # ctx.extras holds Any; this key only ever holds our tuple
        return live
    rows = (await session.execute(select(KnowledgeParaphrase.topic, KnowledgeParaphrase.text)
                                  .where(KnowledgeParaphrase.id <= version))).all()
    # Index building is CPU work (~0.1 s for the real catalogue): off the event loop, once per change.
    matcher = await asyncio.to_thread(Matcher, ctx.catalogue, extra=[(t, x) for t, x in rows],
                                      calibration=base.calibration)
    ctx.extras[_STATE_KEY] = (version, base, matcher)
    return matcher


async def resolve(session: AsyncSession, ctx: AppContext, text: str, lang: str | None = None) -> MatchResult:
    """answer / choice / off_topic for one question; empty input is off_topic."""
    if not text or not text.strip():
        return MatchResult("off_topic", None, 0.0, [])
    return (await live_matcher(session, ctx)).match(text, lang)


@dataclass
class LearnRow:
    id: int
    text: str
    outcome: str
    offered: list[str]
    chosen: str | None  # the topic the resident finally picked (outcome "chose"), else None
    mapped: str | None  # the topic staff already mapped it to
    at: datetime
    language: str


async def learning_queue(session: AsyncSession, *, since: datetime, limit: int = 50) -> list[LearnRow]:
    """Questions that ended in a choice, "none of these", a hand-off or no match, newest first,
    one per distinct wording, with what the resident finally chose and any mapping so far."""
    rows = (await session.execute(
        select(QuestionLog).where(QuestionLog.created_at >= since, QuestionLog.outcome.in_(LEARN_FROM))
        .order_by(QuestionLog.id.desc()).limit(limit * 4)
    )).scalars().all()
    ids = [r.id for r in rows]
    mapped = dict((await session.execute(
        select(KnowledgeParaphrase.question_log_id, KnowledgeParaphrase.topic)
        .where(KnowledgeParaphrase.question_log_id.in_(ids))
    )).all()) if ids else {}
    out: list[LearnRow] = []
    seen: set[str] = set()
    for r in rows:
        key = " ".join(r.text.split()).casefold()
        if key in seen:
            continue
        seen.add(key)
        offered = [a["topic"] for a in r.alternatives or [] if isinstance(a, dict) and "topic" in a]
        out.append(LearnRow(r.id, r.text[:300], str(r.outcome), offered,
                            r.topic if r.outcome is QuestionOutcome.chose else None, mapped.get(r.id),
                            r.created_at, r.language or "zh_Hans"))
        if len(out) >= limit:
            break
    return out


async def map_question(session: AsyncSession, *, ctx: Any, staff: StaffUser, question_log_id: int,
                       topic: str) -> KnowledgeParaphrase:
    """Map a logged question to a topic: its wording becomes a paraphrase every process uses from
    its next question on. Audited; commits. Mapping the same wording to the same topic again is a no-op."""
    if topic not in ctx.catalogue:
        raise MappingError("unknown topic")
    q = await session.get(QuestionLog, question_log_id)
    if q is None:
        raise MappingError("unknown question")
    text = " ".join(q.text.split())[:MAX_PARAPHRASE]
    if not text:
        raise MappingError("empty question")
    existing = (await session.execute(select(KnowledgeParaphrase).where(
        KnowledgeParaphrase.topic == topic, KnowledgeParaphrase.text == text))).scalars().first()
    if existing is not None:
        return existing
    now = ctx.clock.now()
    language = "en" if (q.language or "").startswith("en") else "zh_Hans"
    row = KnowledgeParaphrase(topic=topic, text=text, language=language, question_log_id=q.id,
                              created_by_id=staff.id, created_at=now)
    session.add(row)
    q.suggested_topic = topic
    await session.flush()
    audit.record(session, at=now, staff_id=staff.id, action="knowledge.map", target_type="topic", target_id=topic,
                 question_log_id=q.id, paraphrase_id=row.id)
    await session.commit()
    return row

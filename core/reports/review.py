"""Review of unanswered questions: link one to the topic it should have matched, then apply the
sample question to the topic file (validated, restored on failure) or reject it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.context import AppContext
from core.reports.base import question_key
from db.models import QuestionLog, StaffUser, TopicSuggestion
from knowledge.loader import load_catalogue

# -- review: link unanswered questions to the topic they should have matched ----------------------------------------

class ReviewError(ValueError):
    """A suggestion that cannot be made or applied; the message is shown to staff."""


MAX_SAMPLE = 200


async def suggest_topic(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, question_log_id: int,
                        topic: str) -> TopicSuggestion:
    """Record that a logged question should have matched ``topic``: a sample question pending review. Commits."""
    if topic not in ctx.catalogue:
        raise ReviewError("unknown topic")
    q = await session.get(QuestionLog, question_log_id)
    if q is None:
        raise ReviewError("unknown question")
    text = " ".join(q.text.split())[:MAX_SAMPLE]
    now = ctx.clock.now()
    q.suggested_topic = topic
    existing = (await session.execute(select(TopicSuggestion).where(
        TopicSuggestion.topic == topic, TopicSuggestion.question == text, TopicSuggestion.status == "pending",
    ))).scalar_one_or_none()
    if existing is not None:
        await session.commit()
        return existing
    suggestion = TopicSuggestion(topic=topic, language="en" if (q.language or "").startswith("en") else "zh_Hans",
                                 question=text, question_log_id=q.id, status="pending", created_by_id=staff.id,
                                 created_at=now)
    session.add(suggestion)
    await session.flush()
    audit.record(session, at=now, staff_id=staff.id, action="knowledge.suggest", target_type="topic",
                 target_id=topic, suggestion_id=suggestion.id)
    await session.commit()
    return suggestion


async def suggestions(session: AsyncSession, *, status: str = "pending", limit: int = 200) -> list[TopicSuggestion]:
    return list((await session.execute(
        select(TopicSuggestion).where(TopicSuggestion.status == status)
        .order_by(TopicSuggestion.id.desc()).limit(limit)
    )).scalars())


async def review_suggestion(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, suggestion_id: int,
                            apply: bool) -> TopicSuggestion:
    """Apply (write the sample question into the topic file, then reload the matcher) or reject. Commits."""
    s = await session.get(TopicSuggestion, suggestion_id)
    if s is None or s.status != "pending":
        raise ReviewError("this suggestion was already reviewed")
    now = ctx.clock.now()
    if apply:
        topics_dir = ctx.settings.knowledge_dir / "topics"
        add_sample_question(topics_dir / f"{s.topic}.yaml", "en" if s.language == "en" else "zh", s.question,
                            validate=lambda: _validate(ctx))
        # This process answers with the new sample at once; other processes pick it up on restart.
        ctx.__dict__.pop("catalogue", None)
        ctx.__dict__.pop("matcher", None)
    s.status = "applied" if apply else "rejected"
    audit.record(session, at=now, staff_id=staff.id, action="knowledge.apply" if apply else "knowledge.reject",
                 target_type="topic", target_id=s.topic, suggestion_id=s.id)
    await session.commit()
    return s


def _validate(ctx: AppContext) -> None:
    load_catalogue(ctx.settings.knowledge_dir / "topics", ctx.settings.knowledge_dir / "site.yaml")


def add_sample_question(path: Path, lang: str, question: str, *, validate: Any = None) -> bool:
    """Append ``question`` to ``questions.<lang>`` of a topic file, keeping its layout and comments.

    Returns False when the question is already there. ``validate`` runs after writing; if it raises, the
    file is restored and the error becomes a ReviewError.
    """
    question = " ".join(question.split())[:MAX_SAMPLE]
    if not question:
        raise ReviewError("empty question")
    if not path.exists():
        raise ReviewError("the topic file does not exist")
    original = path.read_text(encoding="utf-8")
    data = yaml.safe_load(original) or {}
    existing = ((data.get("questions") or {}).get(lang)) or []
    if question_key(question) in {question_key(str(q)) for q in existing}:
        return False
    lines = original.split("\n")
    try:
        start = lines.index("questions:")
    except ValueError:
        raise ReviewError("the topic file has no block 'questions:' section; edit it by hand") from None
    key_line = None
    i = start + 1
    while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
        if lines[i].rstrip() == f"  {lang}:":
            key_line = i
        i += 1
    if key_line is None:
        raise ReviewError(f"the topic file has no block 'questions: {lang}:' list; edit it by hand")
    last_item = key_line
    j = key_line + 1
    while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
        if lines[j].startswith("    - "):
            last_item = j
        j += 1
    scalar = yaml.safe_dump(question, allow_unicode=True, width=10_000).strip()
    scalar = scalar.removesuffix("...").strip()
    lines.insert(last_item + 1, f"    - {scalar}")
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        reloaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if question not in reloaded["questions"][lang]:
            raise ReviewError("the question could not be added safely")
        if validate is not None:
            validate()
    except Exception as e:
        path.write_text(original, encoding="utf-8")
        raise ReviewError(f"the topic file did not validate after the change, nothing was changed: {e}") from e
    return True

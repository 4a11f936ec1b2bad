"""Knowledge view: every topic exactly as the resident sees it, learning from residents (issue 14: map a
question that ended in a choice, "none of these" or a hand-off to its topic — the bot uses the wording at
once), and the review of unanswered questions (link one to the topic it should have matched -> a pending
sample question; a supervisor applies it to the topic file or rejects it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep, SupervisorDep
from api.templating import N_, render
from core import knowledge as live_knowledge
from core import reports
from db.enums import ROLE_RANK, StaffRole

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

REVIEW_DAYS = 90


async def _page(request: Request, user, ctx, session, *, error: str | None = None, status_code: int = 200):
    now = ctx.clock.now()
    period = reports.Period.last_days(now, REVIEW_DAYS)
    topics = list(ctx.catalogue)
    return render(request, "console/knowledge.html", status_code=status_code, topics=topics,
                  learn=await live_knowledge.learning_queue(session, since=period.since, limit=50),
                  unanswered=await reports.top_unanswered(session, period=period, limit=50),
                  pending=await reports.suggestions(session), error=error, review_days=REVIEW_DAYS,
                  is_supervisor=ROLE_RANK[user.role] >= ROLE_RANK[StaffRole.supervisor])


@router.get("/console/knowledge")
async def knowledge(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    return await _page(request, user, ctx, session)


@router.get("/console/knowledge/{slug}")
async def topic(slug: str, request: Request, user: AgentDep, ctx: CtxDep):
    t = ctx.catalogue.get(slug)
    if t is None:
        raise HTTPException(404, N_("no such topic"))
    # render() output is Telegram HTML built from escaped text plus <b>: safe to show as it is.
    rendered = {lang: [Markup(chunk) for chunk in ctx.catalogue.render(t, lang)] for lang in ("zh", "en")}
    checklist = {lang: ctx.catalogue.checklist_items(t, lang) for lang in ("zh", "en")}
    return render(request, "console/knowledge_topic.html", topic=t, rendered=rendered, checklist=checklist)


@router.post("/console/knowledge/suggest")
async def suggest(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                  question_log_id: Annotated[int, Form()], topic: Annotated[str, Form(max_length=64)]):
    try:
        await reports.suggest_topic(session, ctx=ctx, staff=user, question_log_id=question_log_id, topic=topic)
    except reports.ReviewError as e:
        await session.rollback()
        await session.refresh(user)
        return await _page(request, user, ctx, session, error=str(e), status_code=422)
    return RedirectResponse("/console/knowledge#unanswered", status_code=303)


@router.post("/console/knowledge/map")
async def map_question(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                       question_log_id: Annotated[int, Form()], topic: Annotated[str, Form(max_length=64)]):
    """One click: the resident's wording becomes a paraphrase of the topic, used by every process at once."""
    try:
        await live_knowledge.map_question(session, ctx=ctx, staff=user, question_log_id=question_log_id, topic=topic)
    except live_knowledge.MappingError as e:
        await session.rollback()
        await session.refresh(user)
        return await _page(request, user, ctx, session, error=str(e), status_code=422)
    return RedirectResponse("/console/knowledge#learn", status_code=303)


@router.post("/console/knowledge/suggestions/{suggestion_id}/{decision}")
async def review(suggestion_id: int, decision: str, request: Request, user: SupervisorDep, ctx: CtxDep,
                 session: SessionDep):
    if decision not in ("apply", "reject"):
        raise HTTPException(404, N_("unknown decision"))
    try:
        await reports.review_suggestion(session, ctx=ctx, staff=user, suggestion_id=suggestion_id,
                                        apply=decision == "apply")
    except reports.ReviewError as e:
        await session.rollback()
        await session.refresh(user)
        return await _page(request, user, ctx, session, error=str(e), status_code=409)
    return RedirectResponse("/console/knowledge#pending", status_code=303)

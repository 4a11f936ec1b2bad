"""The live handoff queue: residents waiting for a person, my chats, transfers offered to me."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AgentDep, CtxDep, SessionDep
from api.templating import render
from core import handoff

router = APIRouter(include_in_schema=False)


@router.get("/console/queue")
async def queue_page(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    view = await handoff.queue_view(session, staff=user, now=ctx.clock.now())
    return render(request, "console/queue.html", view=view, now=ctx.clock.now())


@router.get("/console/queue/fragment")
async def queue_fragment(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    """The queue tables alone; the page reloads them when a live event arrives."""
    view = await handoff.queue_view(session, staff=user, now=ctx.clock.now())
    return render(request, "console/_queue_tables.html", view=view, now=ctx.clock.now())

"""The console home page: what needs attention now."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AgentDep, CtxDep, SessionDep
from api.templating import render
from core import dashboard, inbox

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    now = ctx.clock.now()
    return render(request, "home.html", summary=await dashboard.summary(session, now=now),
                  stats=await inbox.stats(session, now=now))  # issue 13: the Telegram inbox

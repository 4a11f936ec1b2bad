"""Operators' view of the durable inbox (issue 13): updates parked after repeated failures, with the error.

Agents and above see them (a parked update is a resident's message nobody answered automatically);
operators and above may put one back in the queue once its cause is fixed.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from api.deps import AgentDep, CsrfDep, CtxDep, OperatorDep, SessionDep
from api.templating import render
from core import audit, inbox

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])


@router.get("/console/inbox")
async def inbox_page(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep):
    rows = await inbox.parked(session)
    shown = [(row, json.dumps(row.payload, ensure_ascii=False, indent=1)[:4000]) for row in rows]
    return render(request, "console/inbox.html", stats=await inbox.stats(session, now=ctx.clock.now()),
                  rows=shown, can_retry=user.role.value in ("operator", "supervisor", "admin"))


@router.post("/console/inbox/{update_id}/retry")
async def retry(update_id: int, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    now = ctx.clock.now()
    if await inbox.retry_parked(session, update_id, now=now):
        audit.record(session, at=now, staff_id=user.id, action="inbox.retry", target_type="update",
                     target_id=update_id)
        await session.commit()
        inbox.wake()
    return RedirectResponse("/console/inbox", status_code=303)

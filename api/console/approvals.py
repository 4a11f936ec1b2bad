"""R2 in the console: staff ask a supervisor to cancel or refuse a resident's request; supervisors decide on
the approvals page (approving carries it out and the reason is sent to the resident)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep, SupervisorDep
from api.templating import N_, render
from core import approvals, tickets

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])


@router.get("/console/approvals")
async def approvals_page(request: Request, user: SupervisorDep, session: SessionDep, error: str = ""):
    items = await approvals.pending(session)
    return render(request, "console/approvals.html", items=items, error=error[:300])


@router.post("/console/approvals/{request_id}/{decision}")
async def decide(request_id: int, decision: str, user: SupervisorDep, ctx: CtxDep, session: SessionDep,
                 note: Annotated[str, Form(max_length=1000)] = ""):
    if decision not in ("approve", "reject"):
        raise HTTPException(404, N_("unknown decision"))
    try:
        await approvals.decide(session, ctx=ctx, request_id=request_id, supervisor=user,
                               approve=decision == "approve", note=note)
    except approvals.NotFound:
        raise HTTPException(404, N_("no such approval request")) from None
    except tickets.RequestError as e:
        await session.rollback()
        return RedirectResponse(f"/console/approvals?error={quote(str(e))}", status_code=303)
    return RedirectResponse("/console/approvals", status_code=303)


@router.post("/console/tickets/{number}/cancel-request")
async def ask_to_cancel_ticket(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                               reason: Annotated[str, Form(max_length=1000)] = ""):
    ticket = await tickets.get_ticket(session, number)
    if ticket is None:
        raise HTTPException(404, N_("no such ticket"))
    label = ticket.number
    try:
        await approvals.request(session, ctx=ctx, staff=user, action=approvals.Action.cancel_ticket, target=ticket,
                                reason=reason)
    except tickets.RequestError as e:
        await session.rollback()
        return RedirectResponse(f"/console/tickets/{label}?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/tickets/{label}", status_code=303)

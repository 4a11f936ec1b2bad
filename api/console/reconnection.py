"""R11 in the console: the reconnection queue (served strictly in order of registration) and cutting supply
for arrears, which is refused until the payment notice is 3 days old."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from api.deps import CsrfDep, CtxDep, OperatorDep, SessionDep
from api.templating import N_, gettext_for, render
from core import accounts, reconnection, tickets

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])


@router.get("/console/reconnection")
async def queue_page(request: Request, user: OperatorDep, session: SessionDep, error: str = "", done: str = ""):
    rows = await reconnection.queue(session)
    return render(request, "console/reconnection.html", rows=rows, error=error[:300], done=done[:100])


@router.post("/console/reconnection/{request_id}/serve")
async def serve(request_id: int, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    try:
        row = await reconnection.serve(session, ctx=ctx, request_id=request_id, staff=user)
    except tickets.InvalidInput:
        raise HTTPException(404, N_("no such waiting registration")) from None
    except tickets.RequestError as e:
        await session.rollback()
        return RedirectResponse(f"/console/reconnection?error={quote(str(e))}", status_code=303)
    return RedirectResponse(f"/console/reconnection?done={row.id}", status_code=303)


@router.post("/console/reconnection/seal")
async def seal(request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep,
               number: Annotated[str, Form(max_length=32)] = ""):
    _ = gettext_for(request)
    account = await accounts.account_by_number(session, number.strip())
    if account is None:
        return RedirectResponse(f"/console/reconnection?error={quote(_('no account with that number'))}",
                                status_code=303)
    try:
        await reconnection.seal_for_arrears(session, ctx=ctx, account=account, staff=user)
    except tickets.RequestError as e:
        await session.rollback()
        return RedirectResponse(f"/console/reconnection?error={quote(str(e))}", status_code=303)
    return RedirectResponse("/console/reconnection", status_code=303)

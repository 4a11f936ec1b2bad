"""Console: R12 bill corrections — re-read tasks for suspicious readings and the ordered approval steps.

Anyone on staff may see the tasks (approvers may hold any console role); recording a re-read needs the
operator role (billing staff); an approval needs the step's approval role, which the service checks.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from api.deps import AgentDep, CsrfDep, CtxDep, OperatorDep, SessionDep
from api.templating import gettext_for, render
from core import corrections

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])


@router.get("/console/corrections")
async def corrections_page(request: Request, user: AgentDep, session: SessionDep):
    return render(request, "console/corrections.html", rows=await corrections.open_corrections(session),
                  labels=corrections.ROLE_LABELS)


def _missing(request: Request) -> HTTPException:
    _ = gettext_for(request)
    return HTTPException(404, _("No such correction"))


async def _detail(request: Request, session, correction_id: int, *, error: str | None = None,
                  status_code: int = 200):
    v = await corrections.view(session, correction_id)
    if v is None:
        raise _missing(request)
    return render(request, "console/correction.html", status_code=status_code, v=v, c=v.correction,
                  labels=corrections.ROLE_LABELS, error=error)


@router.get("/console/corrections/{correction_id}")
async def correction_page(request: Request, correction_id: int, user: AgentDep, session: SessionDep):
    return await _detail(request, session, correction_id)


@router.post("/console/corrections/{correction_id}/reread")
async def correction_reread(request: Request, correction_id: int, user: OperatorDep, session: SessionDep,
                            ctx: CtxDep, volume: str = Form(""), amount: str = Form(""), note: str = Form("")):
    if await corrections.view(session, correction_id) is None:
        raise _missing(request)
    try:
        await corrections.record_reread(session, correction_id=correction_id, staff=user, volume=volume,
                                        amount=amount, note=note, now=ctx.clock.now())
    except corrections.CorrectionError as e:  # refused before anything changed
        return await _detail(request, session, correction_id, error=str(e), status_code=422)
    return RedirectResponse(f"/console/corrections/{correction_id}", status_code=303)


@router.post("/console/corrections/{correction_id}/approve")
async def correction_approve(request: Request, correction_id: int, user: AgentDep, session: SessionDep,
                             ctx: CtxDep, note: str = Form("")):
    if await corrections.view(session, correction_id) is None:
        raise _missing(request)
    try:
        await corrections.approve(session, correction_id=correction_id, staff=user, note=note,
                                  now=ctx.clock.now())
    except corrections.CorrectionError as e:  # refused before anything changed
        return await _detail(request, session, correction_id, error=str(e), status_code=409)
    return RedirectResponse(f"/console/corrections/{correction_id}", status_code=303)

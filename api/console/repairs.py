"""Console: R7 repair orders — the crew's arrival, the visit's outcome (with "fixed on first visit"), and the
progress of an order running late (responsible person and phone, told to the resident). Forms live on the
ticket page (console/_repair.html); each write is a core.repairs call."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request

from api.console.tickets import _do
from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep
from api.templating import gettext_for
from core import repairs
from core.clock import LOCAL_TZ
from db.models import Ticket

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])


def _local(value: str, refusal: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise repairs.RepairError(refusal) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


@router.post("/console/tickets/{number}/arrival")
async def arrival(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                  at: Annotated[str, Form(max_length=32)] = ""):
    _ = gettext_for(request)

    async def go(ticket: Ticket) -> None:
        at_ = _local(at, _("Give the arrival time as YYYY-MM-DD HH:MM"))
        await repairs.record_arrival(session, ctx=ctx, ticket=ticket, staff=user, at=at_)

    return await _do(request, session, ctx, number, user, go)


@router.post("/console/tickets/{number}/outcome")
async def outcome(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                  result: Annotated[str, Form(max_length=16)] = "", first_visit: Annotated[bool, Form()] = False,
                  note: Annotated[str, Form(max_length=4000)] = "", paid: Annotated[bool, Form()] = False):
    return await _do(request, session, ctx, number, user, lambda t: repairs.complete_repair(
        session, ctx=ctx, ticket=t, staff=user, outcome=result, first_visit=first_visit, note=note, paid=paid))


@router.post("/console/tickets/{number}/progress")
async def progress(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                   note: Annotated[str, Form(max_length=2000)] = "", name: Annotated[str, Form(max_length=128)] = "",
                   phone: Annotated[str, Form(max_length=32)] = "", day: Annotated[str, Form(max_length=10)] = ""):
    _ = gettext_for(request)

    async def go(ticket: Ticket) -> None:
        new = None
        if day.strip():
            try:
                new = datetime.combine(datetime.strptime(day.strip(), "%Y-%m-%d").date(), time(23, 59, 59),
                                       tzinfo=LOCAL_TZ)
            except ValueError:
                raise repairs.RepairError(_("Give the new date as YYYY-MM-DD")) from None
        await repairs.record_progress(session, ctx=ctx, ticket=ticket, staff=user, note=note,
                                      responsible_name=name, responsible_phone=phone, new_deadline=new)

    return await _do(request, session, ctx, number, user, go)

"""The appointment board (R2): one day, per district and window, with capacity; confirm, propose another slot,
refuse (supervisor, reason told to the resident), cancel, no-show, complete. Requests still waiting for an
answer are listed first with their 1-working-day deadline. Every write is a core.appointments call."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep
from api.templating import N_, gettext_for, render
from core import appointments, approvals, handoff, slots
from core.appointments import AppointmentFilters
from core.clock import local
from core.tickets import RequestError
from db.enums import ROLE_RANK, AppointmentStatus, StaffRole
from db.models import Appointment, StaffUser

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

ACTIONS = ("confirm", "propose", "refuse", "cancel", "no-show", "complete", "assign", "ask-refuse", "ask-cancel",
           "ignition")


def _day(value: str | None, ctx) -> date:
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return ctx.calendar.add_working_days(local(ctx.clock.now()).date(), 0)


@router.get("/console/appointments")
async def board(request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep, day: str | None = None,
                district: str = "", error: str | None = None):
    the_day = _day(day, ctx)
    now = ctx.clock.now()
    all_districts = await slots.districts(session)
    shown = [district] if district in all_districts else all_districts
    items = await appointments.list_appointments(session, AppointmentFilters(day=the_day,
                                                                             district=district or None), limit=500)
    waiting = await appointments.list_appointments(
        session, AppointmentFilters(status=(AppointmentStatus.requested,), district=district or None), limit=200)
    waiting.sort(key=lambda a: a.respond_by)
    grid = []
    for d in shown:
        (day_slots,) = await slots.availability(session, d, [the_day])
        windows = []
        for w in day_slots.windows:
            windows.append({"window": w.window, "capacity": w.capacity, "booked": w.booked, "free": w.free,
                            "items": [a for a in items if a.district == d and a.window == w.window]})
        extra = [a for a in items if a.district == d and a.window not in {w.window for w in day_slots.windows}]
        if extra:
            windows.append({"window": "other", "capacity": 0, "booked": len(extra), "free": 0, "items": extra})
        grid.append({"district": d, "windows": windows})
    staff = await handoff.active_staff(session)
    return render(request, "console/appointments.html", day=the_day, district=district, districts=all_districts,
                  grid=grid, waiting=waiting, now=now, names={s.id: s.display_name for s in staff}, staff=staff,
                  error=error, working=ctx.calendar.is_working_day(the_day),
                  prev_day=ctx.calendar.add_working_days(the_day, -1),
                  next_day=ctx.calendar.add_working_days(the_day, 1),
                  labels={k.value: v for k, v in appointments.SERVICE_LABELS.items()},
                  is_supervisor=ROLE_RANK[user.role] >= ROLE_RANK[StaffRole.supervisor])


@router.post("/console/appointments/{number}/{action}")
async def act(
    number: str, action: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
    note: Annotated[str, Form(max_length=1000)] = "", day: Annotated[str, Form()] = "",
    window: Annotated[str, Form(max_length=8)] = "", assignee_id: Annotated[int | None, Form()] = None,
    paid: Annotated[str, Form()] = "", back: Annotated[str, Form(max_length=200)] = "",
    check: Annotated[list[str] | None, Form(max_length=32)] = None,
):
    if action not in ACTIONS:
        raise HTTPException(404, N_("unknown action"))
    appt = await appointments.get_appointment(session, number)
    if appt is None:
        raise HTTPException(404, N_("no such appointment"))
    back_url = back if back.startswith("/console/appointments") and not back.startswith("//") else (
        f"/console/appointments?day={appt.day.isoformat()}")
    label = appt.number  # a rollback expires the object
    _ = gettext_for(request)  # before a rollback expires the staff row too
    try:
        await _apply(session, ctx, user, appt, action, note=note, day=day, window=window, assignee_id=assignee_id,
                     paid=bool(paid), checks={c: True for c in (check or [])[:10]})
    except RequestError as e:
        await session.rollback()
        sep = "&" if "?" in back_url else "?"
        reason = _(str(e))  # the console's own refusals are msgids; core's pass through
        return RedirectResponse(f"{back_url}{sep}error={quote(f'{label}: {reason}')}", status_code=303)
    return RedirectResponse(back_url, status_code=303)


async def _apply(session, ctx, user: StaffUser, appt: Appointment, action: str, *, note: str, day: str, window: str,
                 assignee_id: int | None, paid: bool, checks: dict[str, bool] | None = None) -> None:
    if action == "confirm":
        await appointments.confirm(session, ctx=ctx, appt=appt, staff=user, note=note or None)
    elif action == "propose":
        try:
            new_day = date.fromisoformat(day)
        except ValueError:
            raise appointments.InvalidInput(N_("choose the proposed day")) from None
        await appointments.propose_slot(session, ctx=ctx, appt=appt, staff=user, day=new_day, window=window,
                                        note=note or None)
    elif action == "refuse":
        await appointments.refuse(session, ctx=ctx, appt=appt, staff=user, reason=note)
    elif action == "cancel":
        await appointments.cancel_by_staff(session, ctx=ctx, appt=appt, staff=user, reason=note)
    elif action == "ignition":  # R19: the technician's checklist; a failed item closes it as not ignited
        await appointments.record_ignition_visit(session, ctx=ctx, appt=appt, staff=user, checks=checks or {},
                                                 note=note or None)
    elif action in ("ask-refuse", "ask-cancel"):  # R2: a supervisor decides on /console/approvals
        await approvals.request(session, ctx=ctx, staff=user, target=appt, reason=note,
                                action=approvals.Action.refuse_appointment if action == "ask-refuse"
                                else approvals.Action.cancel_appointment)
    elif action == "no-show":
        await appointments.record_no_show(session, ctx=ctx, appt=appt, staff=user, note=note or None)
    elif action == "complete":
        await appointments.complete(session, ctx=ctx, appt=appt, staff=user, note=note or None, paid=paid)
    elif action == "assign":
        assignee = await session.get(StaffUser, assignee_id or user.id)
        if assignee is None:
            raise appointments.InvalidInput(N_("no such member of staff"))
        await appointments.assign(session, ctx=ctx, appt=appt, staff=user, assignee=assignee)

"""The ticket desk: lists with filters and deadlines at a glance, detail with history, assignment (R6), status
changes, duplicates, replies (R14 guard), notes, complaint classification (R5) and deadline moves (R3).

Thin: every write is a core.tickets service call; the page only turns form fields into arguments.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep
from api.templating import N_, gettext_for, render
from core import approvals, audit, handoff, language_guard, tickets
from core.clock import LOCAL_TZ
from core.tickets import TRANSITIONS, TicketFilters
from db.enums import OPEN_TICKET_STATUSES, ROLE_RANK, StaffRole, TicketKind, TicketStatus, Utility
from db.models import Resident, StaffUser, Ticket

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

DISTRICTS = ("城东区", "城西区", "城南区", "城北区")
PAGE = 50


def _enum_list(values: list[str], enum) -> list:
    out = []
    for v in values:
        try:
            out.append(enum(v))
        except ValueError:
            continue  # a hand-edited URL with an unknown value filters on nothing rather than failing
    return out


@router.get("/console/tickets")
async def ticket_list(
    request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
    kind: Annotated[list[str], Query()] = [],  # noqa: B006  (FastAPI reads the default, never mutates it)
    status: Annotated[list[str], Query()] = [],  # noqa: B006
    utility: str = "", district: str = "", owner: str = "", overdue: str = "", open: str = "",
    q: str = "", sort: str = "deadline", cursor: str | None = None,
):
    now = ctx.clock.now()
    f = TicketFilters(kind=_enum_list(kind, TicketKind), status=_enum_list(status, TicketStatus),
                      district=district or None, overdue=bool(overdue), open_only=bool(open))
    if utility in Utility.__members__:
        f.utility = Utility(utility)
    if owner == "me":
        f.owner_id = user.id
    elif owner == "none":
        f.unassigned = True
    elif owner.isdigit():
        f.owner_id = int(owner)
    q = q.strip()[:64]
    if q:
        if "-" in q and q.replace("-", "").isalnum() and any(c.isdigit() for c in q):
            f.number = q
        else:
            f.text = q
    if sort not in tickets.SORTS:
        sort = "deadline"
    try:
        page = await tickets.list_tickets(session, f, now=now, sort=sort, limit=PAGE, cursor=cursor)
    except tickets.InvalidInput:
        page = await tickets.list_tickets(session, f, now=now, sort=sort, limit=PAGE)
    staff = await handoff.active_staff(session)
    names = await _names(session, staff, {t.owner_id for t in page.items})
    params = {k: v for k, v in request.query_params.multi_items() if k != "cursor"}
    next_url = None
    if page.next_cursor:
        next_url = "/console/tickets?" + urlencode([*params.items(), ("cursor", page.next_cursor)])
    return render(request, "console/tickets.html", page=page, now=now, names=names, staff=staff,
                  kinds=list(TicketKind), statuses=list(TicketStatus), utilities=list(Utility),
                  districts=await tickets.service_districts(session) or DISTRICTS,
                  sel={"kind": set(kind), "status": set(status), "utility": utility, "district": district,
                       "owner": owner, "overdue": overdue, "open": open, "q": q, "sort": sort},
                  next_url=next_url, open_statuses=OPEN_TICKET_STATUSES)


async def _names(session, staff: list[StaffUser], ids: set[int | None]) -> dict[int, str]:
    """Display names for owners and history: active staff are already loaded; look up only former staff."""
    names = {s.id: s.display_name for s in staff}
    missing = {i for i in ids if i is not None and i not in names}
    return names | await handoff.staff_names(session, missing) if missing else names


async def _ticket(session, number: str) -> Ticket:
    ticket = await tickets.get_ticket(session, number)
    if ticket is None:
        raise HTTPException(404, N_("no such ticket"))
    return ticket


async def _detail(request: Request, session, ctx, number: str, user: StaffUser, *, error: str | None = None,
                  warning: handoff.GuardWarning | None = None, draft: str = "", status_code: int = 200):
    ticket = await _ticket(session, number)
    resident = await session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    staff = await handoff.active_staff(session)
    names = await _names(session, staff, {e.staff_id for e in ticket.events} | {ticket.owner_id})
    duplicate_of = await session.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None
    is_supervisor = ROLE_RANK[user.role] >= ROLE_RANK[StaffRole.supervisor]
    # R2: only a supervisor cancels; others ask for approval (the card below the status form).
    next_statuses = [s for s in TRANSITIONS[ticket.status] if s is not TicketStatus.duplicate
                     and (is_supervisor or s is not TicketStatus.cancelled)]
    pending_approvals = await approvals.pending_for(session, ticket)
    return render(request, "console/ticket.html", status_code=status_code, ticket=ticket, resident=resident,
                  names=names, staff=staff, now=ctx.clock.now(), error=error, warning=warning, draft=draft,
                  next_statuses=next_statuses, duplicate_of=duplicate_of, pending_approvals=pending_approvals,
                  is_supervisor=ROLE_RANK[user.role] >= ROLE_RANK[StaffRole.supervisor],
                  can_act=ticket.owner_id in (None, user.id) or ROLE_RANK[user.role] >= ROLE_RANK[StaffRole.supervisor],
                  me=user)


@router.get("/console/tickets/{number}")
async def ticket_detail(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                        error: str = ""):
    return await _detail(request, session, ctx, number, user, error=error[:300] or None)


async def _do(request: Request, session, ctx, number: str, user: StaffUser, action):
    ticket = await _ticket(session, number)
    _ = gettext_for(request)
    try:
        await action(ticket)
    except tickets.RequestError as e:
        await session.rollback()
        await session.refresh(user)  # the rollback expired it
        # The console's own refusals below are msgids; core's messages pass through unchanged.
        return await _detail(request, session, ctx, number, user, error=_(str(e)), status_code=e.status_code)
    return RedirectResponse(f"/console/tickets/{ticket.number}", status_code=303)


@router.post("/console/tickets/{number}/assign")
async def assign(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                 assignee_id: Annotated[int | None, Form()] = None):
    async def go(ticket: Ticket) -> None:
        assignee = await session.get(StaffUser, assignee_id or user.id)
        if assignee is None:
            raise tickets.InvalidInput(N_("no such member of staff"))
        await tickets.assign(session, ctx=ctx, ticket=ticket, staff=user, assignee=assignee)

    return await _do(request, session, ctx, number, user, go)


@router.post("/console/tickets/{number}/status")
async def change_status(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                        to: Annotated[str, Form()], note: Annotated[str, Form(max_length=5000)] = "",
                        paid: Annotated[str, Form()] = ""):
    async def go(ticket: Ticket) -> None:
        try:
            target = TicketStatus(to)
        except ValueError:
            raise tickets.InvalidInput(N_("unknown status")) from None
        await tickets.change_status(session, ctx=ctx, ticket=ticket, to=target, staff=user, note=note,
                                    paid=bool(paid))

    return await _do(request, session, ctx, number, user, go)


@router.post("/console/tickets/{number}/duplicate")
async def duplicate(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                    original: Annotated[str, Form(max_length=40)], note: Annotated[str, Form(max_length=2000)] = ""):
    async def go(ticket: Ticket) -> None:
        orig = await tickets.get_ticket(session, original.strip()) if original.strip() else None
        if orig is None:
            raise tickets.InvalidInput(N_("no ticket with that number"))
        await tickets.mark_duplicate(session, ctx=ctx, ticket=ticket, original=orig, staff=user, note=note)

    return await _do(request, session, ctx, number, user, go)


@router.post("/console/tickets/{number}/reply")
async def reply(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                text: Annotated[str, Form(max_length=5000)] = "", action: Annotated[str, Form()] = "send"):
    """A written reply to the resident; the R14 guard applies here as in chats (override is audited)."""
    hits = language_guard.check(text)
    if action == "suggest":
        return await _detail(request, session, ctx, number, user, draft=language_guard.polite_version(text))
    if hits and action != "override":
        return await _detail(request, session, ctx, number, user, warning=handoff.GuardWarning(hits, text),
                             draft=text, status_code=422)

    async def go(ticket: Ticket) -> None:
        if hits:
            audit.record(session, at=ctx.clock.now(), staff_id=user.id, action="ticket.guard_override",
                         target_type="ticket", target_id=ticket.number, phrases=sorted({h.phrase for h in hits}))
        await tickets.reply_to_resident(session, ctx=ctx, ticket=ticket, staff=user, text=text,
                                        guard_override=bool(hits))

    return await _do(request, session, ctx, number, user, go)


@router.post("/console/tickets/{number}/note")
async def note(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
               text: Annotated[str, Form(max_length=5000)] = ""):
    return await _do(request, session, ctx, number, user,
                     lambda t: tickets.add_note(session, ctx=ctx, ticket=t, staff=user, text=text))


@router.post("/console/tickets/{number}/classify")
async def classify(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                   level: Annotated[int, Form()], klass: Annotated[str, Form(max_length=1)] = "",
                   note: Annotated[str, Form(max_length=2000)] = ""):
    return await _do(request, session, ctx, number, user, lambda t: tickets.classify_complaint(
        session, ctx=ctx, ticket=t, staff=user, level=level, klass=klass or None, note=note or None))


@router.post("/console/tickets/{number}/deadline")
async def move_deadline(number: str, request: Request, user: AgentDep, ctx: CtxDep, session: SessionDep,
                        day: Annotated[str, Form()], reason: Annotated[str, Form(max_length=2000)] = ""):
    async def go(ticket: Ticket) -> None:
        try:
            new = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time(23, 59, 59), tzinfo=LOCAL_TZ)
        except ValueError:
            raise tickets.InvalidInput(N_("give the new date as YYYY-MM-DD")) from None
        await tickets.extend_deadline(session, ctx=ctx, ticket=ticket, staff=user, new_deadline=new, reason=reason)

    return await _do(request, session, ctx, number, user, go)

"""JSON API for tickets: list with filters, detail with history, create, status transitions, assignment,
replies, complaint classification and deadline changes (R3, R5, R6, R7, R10). Thin: every write is a
core.tickets service call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep, SupervisorDep
from api.v1.appointments import AppointmentOut
from core import surveys, tickets
from db.enums import Priority, TicketKind, TicketStatus, Utility
from db.models import Resident, StaffUser, Ticket

router = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=[CsrfDep])


def mask(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    kind: TicketKind
    status: TicketStatus
    priority: Priority
    utility: Utility | None
    category: str | None
    subject: str
    district: str | None
    resident_id: int | None
    owner_id: int | None
    deadline_at: datetime
    overdue: bool = False
    escalated_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    complaint_level: int | None
    complaint_class: str | None
    duplicate_of_id: int | None
    contact_phone: str | None = Field(None, description="masked in lists; in full on the detail")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    staff_id: int | None
    resident_id: int | None
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict[str, Any]


class TicketDetail(TicketOut):
    description: str
    address: str | None
    street: str | None
    building: str | None
    latitude: float | None
    longitude: float | None
    extent: str | None
    contact_name: str | None
    account_id: int | None
    attachments: list[Any]
    language: str
    closed_at: datetime | None
    events: list[EventOut] = []


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None


def _out(ticket: Ticket, now: datetime) -> TicketOut:
    out = TicketOut.model_validate(ticket)
    out.overdue = ticket.status in tickets.OPEN_TICKET_STATUSES and ticket.deadline_at < now
    out.contact_phone = mask(ticket.contact_phone)
    return out


def _detail(ticket: Ticket, now: datetime) -> TicketDetail:
    out = TicketDetail.model_validate(ticket)
    out.overdue = ticket.status in tickets.OPEN_TICKET_STATUSES and ticket.deadline_at < now
    return out


def _fail(e: tickets.RequestError) -> HTTPException:
    return HTTPException(e.status_code, str(e))


async def _ticket(session: SessionDep, number: str) -> Ticket:
    ticket = await tickets.get_ticket(session, number)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such ticket")
    return ticket


async def _reloaded(session: SessionDep, ticket: Ticket, ctx: CtxDep) -> TicketDetail:
    number = ticket.number
    session.expire_all()  # reload the history written by the service
    return _detail(await _ticket(session, number), ctx.clock.now())


@router.get("/tickets", response_model=TicketPageOut)
async def list_tickets(
    session: SessionDep,
    ctx: CtxDep,
    user: AgentDep,
    status_: Annotated[list[TicketStatus] | None, Query(alias="status")] = None,
    kind: Annotated[list[TicketKind] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    owner_id: int | None = None,
    mine: bool = False,
    unassigned: bool = False,
    resident_id: int | None = None,
    district: str | None = None,
    utility: Utility | None = None,
    category: str | None = None,
    overdue: bool = False,
    escalated: bool | None = None,
    open: bool = False,
    number: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    created_from: AwareDatetime | None = None,
    created_to: AwareDatetime | None = None,
    sort: Literal["newest", "deadline"] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Response:
    """Tickets matching the filters, newest first (or by deadline); pass ``next_cursor`` back for the next page."""
    now = ctx.clock.now()
    filters = tickets.TicketFilters(
        status=status_ or (), kind=kind or (), priority=priority or (), owner_id=user.id if mine else owner_id,
        unassigned=unassigned,
        resident_id=resident_id, district=district, utility=utility, category=category, overdue=overdue,
        escalated=escalated, open_only=open, number=number, text=q, created_from=created_from,
        created_to=created_to,
    )
    try:
        page = await tickets.list_tickets(session, filters, now=now, sort=sort, limit=limit, cursor=cursor)
    except tickets.RequestError as e:
        raise _fail(e) from e
    out = TicketPageOut(items=[_out(t, now) for t in page.items], next_cursor=page.next_cursor)
    # Serialised once here: FastAPI would validate the finished model again (half the time of a page).
    return Response(out.model_dump_json(), media_type="application/json")


@router.get("/tickets/{number}", response_model=TicketDetail)
async def get_ticket(number: str, session: SessionDep, ctx: CtxDep, user: AgentDep) -> TicketDetail:
    """One ticket with its full history."""
    return _detail(await _ticket(session, number), ctx.clock.now())


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TicketKind
    subject: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=tickets.MAX_STAFF_TEXT)
    resident_id: int | None = None
    utility: Utility | None = None
    category: str | None = Field(None, max_length=32)
    priority: Priority = Priority.normal
    address: str | None = Field(None, max_length=255)
    district: str | None = Field(None, max_length=64)
    street: str | None = Field(None, max_length=128)
    building: str | None = Field(None, max_length=32)
    contact_name: str | None = Field(None, max_length=128)
    contact_phone: str | None = Field(None, max_length=32)
    account_id: int | None = None
    notify: bool = True


@router.post("/tickets", response_model=TicketDetail, status_code=status.HTTP_201_CREATED)
async def create_ticket(
    body: TicketCreate, session: SessionDep, ctx: CtxDep, user: AgentDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> TicketDetail:
    """Register a ticket taken by phone, at the counter or from an integration (same rules as the bot).
    Send an ``Idempotency-Key`` header to make retries safe."""
    resident = None
    if body.resident_id is not None:
        resident = await session.get(Resident, body.resident_id)
        if resident is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such resident")
    phone = None
    if body.contact_phone:
        phone = tickets.clean_phone(body.contact_phone)
        if phone is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "contact_phone is not a valid phone number")
    if body.kind is TicketKind.fault and body.category:
        try:
            tickets.FaultCategory(body.category)
        except ValueError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown fault category") from e
    fields = {k: v for k, v in body.model_dump(include={"address", "district", "street", "building", "contact_name",
                                                         "account_id"}).items() if v is not None}
    try:
        ticket = await tickets.create_ticket(
            session, ctx=ctx, kind=body.kind, resident=resident, subject=body.subject, description=body.description,
            utility=body.utility, category=body.category, priority=body.priority,
            idempotency_key=f"api:{idempotency_key}" if idempotency_key else None, notify=body.notify,
            staff=user, contact_phone=phone, **fields,
        )
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, ticket, ctx)


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: TicketStatus
    note: str | None = Field(None, max_length=tickets.MAX_STAFF_TEXT,
                             description="required for resolved (the written reply, R3) and cancelled (why)")
    paid: bool = Field(False, description="on resolved: paid work (R4 always follows it up)")
    duplicate_of: str | None = Field(None, description="for duplicate: the number of the original ticket")


@router.post("/tickets/{number}/transitions", response_model=TicketDetail)
async def transition(number: str, body: Transition, session: SessionDep, ctx: CtxDep, user: AgentDep) -> TicketDetail:
    """Move the ticket to another status; the resident is told in their language."""
    ticket = await _ticket(session, number)
    original = None
    if body.to is TicketStatus.duplicate:
        if not body.duplicate_of:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "duplicate_of is required")
        original = await tickets.get_ticket(session, body.duplicate_of)
        if original is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "duplicate_of: no such ticket")
    try:
        await tickets.change_status(session, ctx=ctx, ticket=ticket, to=body.to, staff=user, note=body.note,
                                    paid=body.paid, duplicate_of=original)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, ticket, ctx)


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int | None = Field(None, description="omit to take the ticket yourself")
    username: str | None = None


async def _assignee(session: SessionDep, user: StaffUser, body: Assignment) -> StaffUser:
    if body.staff_id is None and body.username is None:
        if user.id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an integration must name the staff member")
        return user
    query = select(StaffUser).where(StaffUser.id == body.staff_id if body.staff_id is not None
                                    else StaffUser.username == body.username)
    assignee = (await session.execute(query)).scalar_one_or_none()
    if assignee is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such staff member")
    return assignee


@router.post("/tickets/{number}/assign", response_model=TicketDetail)
async def assign(number: str, body: Assignment, session: SessionDep, ctx: CtxDep, user: AgentDep) -> TicketDetail:
    """Take a free ticket, or (supervisor) give it to someone else (R6: the owner keeps it to the end)."""
    ticket = await _ticket(session, number)
    assignee = await _assignee(session, user, body)
    try:
        await tickets.assign(session, ctx=ctx, ticket=ticket, staff=user, assignee=assignee)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, ticket, ctx)


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=tickets.MAX_STAFF_TEXT)


@router.post("/tickets/{number}/reply", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def reply(number: str, body: TextBody, session: SessionDep, ctx: CtxDep, user: AgentDep) -> EventOut:
    """A written message to the resident about this ticket (sent through the outbox)."""
    ticket = await _ticket(session, number)
    try:
        event = await tickets.reply_to_resident(session, ctx=ctx, ticket=ticket, staff=user, text=body.text)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return EventOut.model_validate(event)


@router.post("/tickets/{number}/notes", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def note(number: str, body: TextBody, session: SessionDep, ctx: CtxDep, user: AgentDep) -> EventOut:
    """An internal note (never sent to the resident)."""
    ticket = await _ticket(session, number)
    try:
        event = await tickets.add_note(session, ctx=ctx, ticket=ticket, staff=user, text=body.text)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return EventOut.model_validate(event)


class Classification(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    level: Literal[1, 2]
    klass: Literal["A", "B", "C"] | None = Field(None, alias="class")
    note: str | None = Field(None, max_length=tickets.MAX_STAFF_TEXT)


@router.post("/tickets/{number}/classification", response_model=TicketDetail)
async def classify(number: str, body: Classification, session: SessionDep, ctx: CtxDep,
                   user: AgentDep) -> TicketDetail:
    """R5: level 1 (internal) or 2 (escalated, goes to a supervisor at once); class A/B/C when staff are at fault."""
    ticket = await _ticket(session, number)
    try:
        await tickets.classify_complaint(session, ctx=ctx, ticket=ticket, staff=user, level=body.level,
                                         klass=body.klass, note=body.note)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, ticket, ctx)


class DeadlineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deadline: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)


@router.post("/tickets/{number}/deadline", response_model=TicketDetail)
async def move_deadline(number: str, body: DeadlineChange, session: SessionDep, ctx: CtxDep,
                        user: AgentDep) -> TicketDetail:
    """R3: the promise cannot be kept; the resident is told why and the new date."""
    ticket = await _ticket(session, number)
    try:
        await tickets.extend_deadline(session, ctx=ctx, ticket=ticket, staff=user, new_deadline=body.deadline,
                                      reason=body.reason)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, ticket, ctx)


class SatisfactionOut(BaseModel):
    sent: int
    answered: int
    response_rate: float | None
    attitude: float | None
    ability: float | None
    score: float | None
    percent: float | None
    low: int
    by_category: dict[str, dict[str, Any]]


@router.get("/satisfaction", response_model=SatisfactionOut, tags=["reports"])
async def satisfaction(session: SessionDep, ctx: CtxDep, user: SupervisorDep,
                       start: AwareDatetime | None = None, end: AwareDatetime | None = None,
                       category: str | None = None, staff_id: int | None = None) -> SatisfactionOut:
    """R4 satisfaction: mean of each rating, final score the mean of the two (1–10)."""
    s = await surveys.satisfaction(session, start=start, end=end, category=category, staff_id=staff_id,
                                   now=ctx.clock.now())

    def row(x: surveys.Satisfaction) -> dict[str, Any]:
        return {"sent": x.sent, "answered": x.answered, "attitude": x.attitude, "ability": x.ability,
                "score": x.score, "low": x.low}

    return SatisfactionOut(sent=s.sent, answered=s.answered, response_rate=s.response_rate, attitude=s.attitude,
                           ability=s.ability, score=s.score, percent=s.percent, low=s.low,
                           by_category={k: row(v) for k, v in s.by_category.items()})


# --- what needs a supervisor -------------------------------------------------------------------------------------


class EscalatedTicketOut(TicketOut):
    reason: str = Field(description="low_score_followup | major_complaint | overdue | emergency | escalated")


class EscalationsOut(BaseModel):
    tickets: list[EscalatedTicketOut]
    appointments: list[dict[str, Any]] = Field(description="visit requests not answered within 1 working day (R2)")


@router.get("/escalations", response_model=EscalationsOut, tags=["reports"])
async def escalations(session: SessionDep, ctx: CtxDep, user: SupervisorDep,
                      limit: Annotated[int, Query(ge=1, le=500)] = 200) -> EscalationsOut:
    """The supervisor's queue: overdue or escalated tickets, emergencies, level-2 / class-A complaints, R4
    follow-up tasks and unanswered visit requests; the lasting counterpart of the live alerts."""
    now = ctx.clock.now()
    q = await tickets.supervisor_queue(session, now=now, limit=limit)
    items = [EscalatedTicketOut(**_out(t, now).model_dump(), reason=tickets.supervisor_reason(t, now))
             for t in q.tickets]
    appts = []
    for a in q.appointments:
        out = AppointmentOut.model_validate(a)
        out.unanswered_overdue = True
        appts.append(out.model_dump(mode="json"))
    return EscalationsOut(tickets=items, appointments=appts)

"""JSON API for home-visit appointments (R2) and visit capacity: a day's list, detail with history, create
(phone/counter requests), confirm, propose another slot, refuse (supervisor), cancel, no-show, complete,
assign; capacity per district and window (supervisor)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import AgentDep, CsrfDep, CtxDep, SessionDep, SupervisorDep
from core import appointments, ignition, slots, tickets
from db.enums import AppointmentStatus, ServiceType
from db.models import Appointment, Resident, StaffUser

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"], dependencies=[CsrfDep])


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    service: ServiceType
    status: AppointmentStatus
    district: str
    address: str
    day: date
    window: str
    proposed_day: date | None
    proposed_window: str | None
    resident_id: int | None
    owner_id: int | None
    respond_by: datetime
    unanswered_overdue: bool = False
    created_at: datetime
    updated_at: datetime


class AppointmentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    staff_id: int | None
    from_status: str | None
    to_status: str | None
    note: str | None


class AppointmentDetail(AppointmentOut):
    contact_phone: str | None
    note: str | None
    language: str
    refusal_reason: str | None
    refused_by_id: int | None
    account_id: int | None
    reminder_sent_at: datetime | None
    events: list[AppointmentEventOut] = []


def _out(appt: Appointment, now: datetime) -> AppointmentOut:
    out = AppointmentOut.model_validate(appt)
    out.unanswered_overdue = appt.status is AppointmentStatus.requested and appt.respond_by < now
    return out


def _fail(e: tickets.RequestError) -> HTTPException:
    return HTTPException(e.status_code, str(e))


async def _appt(session: SessionDep, number: str) -> Appointment:
    appt = await appointments.get_appointment(session, number)
    if appt is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appointment")
    return appt


async def _reloaded(session: SessionDep, appt: Appointment, ctx: CtxDep) -> AppointmentDetail:
    number = appt.number
    session.expire_all()  # reload the history written by the service
    fresh = await _appt(session, number)
    out = AppointmentDetail.model_validate(fresh)
    out.unanswered_overdue = fresh.status is AppointmentStatus.requested and fresh.respond_by < ctx.clock.now()
    return out


# --- capacity (declared before /{number} so the paths do not collide) -----------------------------------------


class CapacityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    district: str
    window: str
    day: date | None
    capacity: int


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str = Field(min_length=1, max_length=64)
    window: str = Field(pattern=r"^\d{2}-\d{2}$")
    capacity: int = Field(ge=0, le=1000)
    day: date | None = Field(None, description="omit for the default of every working day")


@router.get("/capacity", response_model=list[CapacityOut])
async def list_capacity(session: SessionDep, user: AgentDep, district: str | None = None,
                        from_day: date | None = None) -> list[CapacityOut]:
    """Defaults (day null) and date-specific overrides of visit capacity."""
    return [CapacityOut.model_validate(r) for r in await slots.list_capacity(session, district=district,
                                                                             from_day=from_day)]


@router.put("/capacity", response_model=CapacityOut)
async def set_capacity(body: CapacityIn, session: SessionDep, ctx: CtxDep, user: SupervisorDep) -> CapacityOut:
    try:
        row = await slots.set_capacity(session, ctx=ctx, staff=user, district=body.district, window=body.window,
                                       capacity=body.capacity, day=body.day)
    except slots.CapacityError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
    return CapacityOut.model_validate(row)


@router.delete("/capacity", status_code=status.HTTP_204_NO_CONTENT)
async def remove_override(session: SessionDep, ctx: CtxDep, user: SupervisorDep, district: str, window: str,
                          day: date) -> None:
    """Remove one day's override (the default applies again)."""
    if not await slots.remove_override(session, ctx=ctx, staff=user, district=district, window=window, day=day):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such override")


class DayOut(BaseModel):
    day: date
    windows: dict[str, int]  # window -> free places


@router.get("/availability", response_model=list[DayOut])
async def availability(session: SessionDep, ctx: CtxDep, user: AgentDep, district: str,
                       days: Annotated[int, Query(ge=1, le=60)] = slots.HORIZON_WORKING_DAYS) -> list[DayOut]:
    """Free places per window on the next working days (what residents can still book)."""
    result = await slots.availability(session, district, slots.bookable_days(ctx, ctx.clock.now(), days))
    return [DayOut(day=d.day, windows={w.window: w.free for w in d.windows}) for d in result]


# --- appointments ------------------------------------------------------------------------------------------------


class AppointmentList(BaseModel):
    items: list[AppointmentOut]


@router.get("", response_model=AppointmentList)
async def list_appointments(
    session: SessionDep, ctx: CtxDep, user: AgentDep,
    day: date | None = None, from_day: date | None = None, to_day: date | None = None,
    status_: Annotated[list[AppointmentStatus] | None, Query(alias="status")] = None,
    district: str | None = None, service: ServiceType | None = None, owner_id: int | None = None,
    resident_id: int | None = None, unanswered_overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200, offset: Annotated[int, Query(ge=0)] = 0,
) -> AppointmentList:
    """Appointments ordered by day and window; ``day`` gives one day's work list."""
    now = ctx.clock.now()
    filters = appointments.AppointmentFilters(day=day, from_day=from_day, to_day=to_day, status=tuple(status_ or ()),
                                              district=district, service=service, owner_id=owner_id,
                                              resident_id=resident_id, unanswered_overdue=unanswered_overdue)
    rows = await appointments.list_appointments(session, filters, now=now, limit=limit, offset=offset)
    return AppointmentList(items=[_out(a, now) for a in rows])


@router.get("/{number}", response_model=AppointmentDetail)
async def get_appointment(number: str, session: SessionDep, ctx: CtxDep, user: AgentDep) -> AppointmentDetail:
    appt = await _appt(session, number)
    out = AppointmentDetail.model_validate(appt)
    out.unanswered_overdue = appt.status is AppointmentStatus.requested and appt.respond_by < ctx.clock.now()
    return out


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: ServiceType
    district: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=2, max_length=255)
    day: date
    window: str = Field(pattern=r"^\d{2}-\d{2}$")
    resident_id: int | None = None
    contact_phone: str | None = Field(None, max_length=32)
    note: str | None = Field(None, max_length=appointments.MAX_NOTE)
    account_id: int | None = None
    language: str | None = Field(None, pattern=r"^(zh_Hans|en)$")
    prerequisites: dict[ignition.Item, bool] | None = Field(
        None, description="R19, ignition only: the resident confirmed each prerequisite "
                          "(flame_failure, flue_outdoors, hoses_clamped, valves_closed), all true")


@router.post("", response_model=AppointmentDetail, status_code=status.HTTP_201_CREATED)
async def create_appointment(
    body: AppointmentCreate, session: SessionDep, ctx: CtxDep, user: AgentDep,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> AppointmentDetail:
    """Register a visit requested by phone or at the counter (capacity rules as for the bot)."""
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
    try:
        appt = await appointments.request_appointment(
            session, ctx=ctx, resident=resident, service=body.service, district=body.district, address=body.address,
            day=body.day, window=body.window, contact_phone=phone, note=body.note, account_id=body.account_id,
            idempotency_key=f"api:{idempotency_key}" if idempotency_key else None, staff=user, language=body.language,
            prerequisites={k.value: v for k, v in (body.prerequisites or {}).items()},
        )
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=appointments.MAX_NOTE)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=appointments.MAX_NOTE)


class ProposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    window: str = Field(pattern=r"^\d{2}-\d{2}$")
    note: str | None = Field(None, max_length=appointments.MAX_NOTE)


class CompleteBody(NoteBody):
    paid: bool = False


@router.post("/{number}/confirm", response_model=AppointmentDetail)
async def confirm(number: str, body: NoteBody, session: SessionDep, ctx: CtxDep, user: AgentDep) -> AppointmentDetail:
    """R2: confirm the requested day and window."""
    appt = await _appt(session, number)
    try:
        await appointments.confirm(session, ctx=ctx, appt=appt, staff=user, note=body.note)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


@router.post("/{number}/propose", response_model=AppointmentDetail)
async def propose(number: str, body: ProposeBody, session: SessionDep, ctx: CtxDep,
                  user: AgentDep) -> AppointmentDetail:
    """R2: offer another day/window; the resident accepts, picks another date or cancels in the bot."""
    appt = await _appt(session, number)
    try:
        await appointments.propose_slot(session, ctx=ctx, appt=appt, staff=user, day=body.day, window=body.window,
                                        note=body.note)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


@router.post("/{number}/refuse", response_model=AppointmentDetail)
async def refuse(number: str, body: ReasonBody, session: SessionDep, ctx: CtxDep,
                 user: SupervisorDep) -> AppointmentDetail:
    """R2: a refusal needs a supervisor, and the reason is told to the resident."""
    appt = await _appt(session, number)
    try:
        await appointments.refuse(session, ctx=ctx, appt=appt, staff=user, reason=body.reason)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


@router.post("/{number}/cancel", response_model=AppointmentDetail)
async def cancel(number: str, body: ReasonBody, session: SessionDep, ctx: CtxDep, user: AgentDep) -> AppointmentDetail:
    appt = await _appt(session, number)
    try:
        await appointments.cancel_by_staff(session, ctx=ctx, appt=appt, staff=user, reason=body.reason)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


@router.post("/{number}/no-show", response_model=AppointmentDetail)
async def no_show(number: str, body: NoteBody, session: SessionDep, ctx: CtxDep, user: AgentDep) -> AppointmentDetail:
    """R2: the resident was not met within 30 minutes of the window's start."""
    appt = await _appt(session, number)
    try:
        await appointments.record_no_show(session, ctx=ctx, appt=appt, staff=user, note=body.note)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


@router.post("/{number}/complete", response_model=AppointmentDetail)
async def complete(number: str, body: CompleteBody, session: SessionDep, ctx: CtxDep,
                   user: AgentDep) -> AppointmentDetail:
    """The visit was made (R4 decides whether the resident is asked to rate it)."""
    appt = await _appt(session, number)
    try:
        await appointments.complete(session, ctx=ctx, appt=appt, staff=user, note=body.note, paid=body.paid)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int | None = None


@router.post("/{number}/assign", response_model=AppointmentDetail)
async def assign(number: str, body: AssignBody, session: SessionDep, ctx: CtxDep,
                 user: AgentDep) -> AppointmentDetail:
    appt = await _appt(session, number)
    if body.staff_id is None:
        if user.id is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an integration must name the staff member")
        assignee = user
    else:
        named = (await session.execute(select(StaffUser).where(StaffUser.id == body.staff_id))).scalar_one_or_none()
        if named is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such staff member")
        assignee = named
    try:
        await appointments.assign(session, ctx=ctx, appt=appt, staff=user, assignee=assignee)
    except tickets.RequestError as e:
        raise _fail(e) from e
    return await _reloaded(session, appt, ctx)

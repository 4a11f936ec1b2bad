"""Dispatch integration (issue 15): a dispatch or SCADA system announces, updates, extends and restores outage
notices without a person, under the same R9 rules as the console (core.dispatch → core.outages).

Idempotent by the caller's external id — the ``X-External-Id`` header or the ``external_id`` field — so a
retried request never announces twice. Operator role (or an operator token); agents may only read in the
console, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import CsrfDep, CtxDep, OperatorDep, SessionDep
from core import dispatch, outages
from db.enums import OutageKind, OutageStatus, Utility

router = APIRouter(prefix="/api/v1/outages", tags=["outages"], dependencies=[CsrfDep])

AREA_EXAMPLE: dict[str, Any] = {
    "districts": [], "streets": [{"district": "城东区", "street": "人民路"}], "buildings": [],
}
ExternalIdHeader = Annotated[str | None, Header(alias="X-External-Id", max_length=64,
                                                description="Your system's id of this notice (idempotency key)")]


class OutageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    external_id: str | None
    utility: Utility
    kind: OutageKind
    status: OutageStatus
    reason_zh: str
    reason_en: str
    area: dict[str, Any]
    starts_at: datetime
    restore_at: datetime
    restored_at: datetime | None
    announced_at: datetime | None
    recipients: int | None = Field(None, description="residents told by this request (none on a replay)")
    replayed: bool = Field(False, description="true when this request repeated an earlier one and changed nothing")


class OutageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "external_id": "SCADA-2026-0412", "utility": "water", "kind": "planned",
        "reason_zh": "主管道更换阀门", "reason_en": "Replacing a valve on the main",
        "area": AREA_EXAMPLE, "starts_at": "2026-12-15T08:00:00+08:00", "restore_at": "2026-12-15T18:00:00+08:00",
    }, {
        "external_id": "SCADA-EMG-77", "utility": "gas", "kind": "emergency",
        "reason_zh": "燃气管道抢修", "reason_en": "Emergency gas main repair",
        "area": {"districts": ["城南区"]}, "starts_at": "2026-12-04T09:30:00+08:00",
        "restore_at": "2026-12-04T15:00:00+08:00",
    }]})

    external_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}$",
                                    description="your id of this notice; or send the X-External-Id header")
    utility: Utility
    kind: OutageKind
    reason_zh: str = Field(max_length=outages.MAX_REASON, description="R9: the reason, in Chinese")
    reason_en: str = Field(max_length=outages.MAX_REASON, description="R9: the reason, in English")
    area: dict[str, Any] = Field(description='{"districts": [...], "streets": [{"district","street"}], '
                                             '"buildings": [{"district","street","building"}]}')
    starts_at: AwareDatetime
    restore_at: AwareDatetime = Field(description="R9: the estimated restoration")
    announce: bool = Field(True, description="false: keep it as a draft for a person to announce")
    override_reason: str | None = Field(None, max_length=outages.MAX_NOTE,
                                        description="R9: a supervisor token's justification for a late notice")


class OutageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"starts_at": "2026-12-16T08:00:00+08:00", "note_zh": "因天气原因顺延一天", "note_en": "Moved a day: weather"},
        {"note_zh": "抢修人员已到场，正在更换管段", "note_en": "The crew is on site replacing the pipe"},
    ]})

    starts_at: AwareDatetime | None = Field(None, description="announced: a later start (a delay)")
    restore_at: AwareDatetime | None = None
    note_zh: str = Field("", max_length=outages.MAX_NOTE, description="announced: a progress note (emergencies)")
    note_en: str = Field("", max_length=outages.MAX_NOTE)
    reason_zh: str | None = Field(None, max_length=outages.MAX_REASON, description="drafts only")
    reason_en: str | None = Field(None, max_length=outages.MAX_REASON, description="drafts only")
    area: dict[str, Any] | None = Field(None, description="drafts only")


class OutageExtend(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"restore_at": "2026-12-15T21:00:00+08:00", "note_zh": "施工延长", "note_en": "The work takes longer"}]})

    restore_at: AwareDatetime
    note_zh: str = Field("", max_length=outages.MAX_NOTE)
    note_en: str = Field("", max_length=outages.MAX_NOTE)


class OutageRestore(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"restored_at": "2026-12-15T17:20:00+08:00"}]})

    restored_at: AwareDatetime | None = Field(None, description="when supply came back (default: now)")


def _out(result: dispatch.Result) -> OutageOut:
    out = OutageOut.model_validate(result.outage)
    out.recipients, out.replayed = result.recipients, not result.created
    return out


@contextmanager
def _refusals() -> Iterator[None]:
    """The service's refusals (R9 lead times, a changed replay, a finished notice) as 409/422 with its reason."""
    try:
        yield
    except outages.OutageError as e:
        code = status.HTTP_409_CONFLICT if isinstance(e, dispatch.Conflict) else 422
        raise HTTPException(code, str(e)) from None


async def _get(session, ref: str):
    outage = await dispatch.by_ref(session, ref)
    if outage is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such notice · 公告不存在")
    return outage


@router.get("", response_model=list[OutageOut])
async def list_outages(session: SessionDep, user: OperatorDep,
                       status_: OutageStatus | None = Query(None, alias="status"),
                       limit: int = Query(100, ge=1, le=500)) -> list[OutageOut]:
    """Notices, newest first (optionally one status)."""
    return [OutageOut.model_validate(o) for o in await dispatch.list_notices(session, status=status_, limit=limit)]


@router.post("", response_model=OutageOut, status_code=201,
             responses={200: {"description": "a replay: the notice created before with this external id"},
                        409: {"description": "the external id names a notice with other content"},
                        422: {"description": "refused, e.g. R9: a planned notice less than 7 working days ahead"}})
async def create_outage(body: OutageCreate, response: Response, session: SessionDep, ctx: CtxDep, user: OperatorDep,
                        x_external_id: ExternalIdHeader = None) -> OutageOut:
    """Create and announce a notice (R9 lead times enforced); idempotent by external id."""
    if body.external_id and x_external_id and body.external_id != x_external_id:
        raise HTTPException(422, "external_id and the X-External-Id header differ")
    external_id = body.external_id or x_external_id
    if not external_id:
        raise HTTPException(422, "external_id (field or X-External-Id header) is required for idempotency")
    with _refusals():
        result = await dispatch.create(
            session, ctx=ctx, staff=user, external_id=external_id, utility=body.utility, kind=body.kind,
            reason_zh=body.reason_zh, reason_en=body.reason_en, area=body.area, starts_at=body.starts_at,
            restore_at=body.restore_at, announce=body.announce, override_reason=body.override_reason)
    if not result.created:
        response.status_code = 200
    return _out(result)


@router.get("/{ref}", response_model=OutageOut)
async def get_outage(ref: str, session: SessionDep, user: OperatorDep) -> OutageOut:
    """One notice by your external id or its number (TG-…)."""
    return OutageOut.model_validate(await _get(session, ref))


@router.patch("/{ref}", response_model=OutageOut)
async def update_outage(ref: str, body: OutageUpdate, session: SessionDep, ctx: CtxDep,
                        user: OperatorDep) -> OutageOut:
    """Edit a draft; for an announced notice: a delay (later ``starts_at``) or a progress note, broadcast."""
    outage = await _get(session, ref)
    with _refusals():
        result = await dispatch.update(session, ctx=ctx, staff=user, outage=outage, **body.model_dump())
    return _out(result)


@router.post("/{ref}/announce", response_model=OutageOut)
async def announce_outage(ref: str, session: SessionDep, ctx: CtxDep, user: OperatorDep,
                          override_reason: Annotated[str | None, Query(max_length=1000)] = None) -> OutageOut:
    """Announce a draft (R9 lead times enforced)."""
    outage = await _get(session, ref)
    with _refusals():
        result = await dispatch.announce(session, ctx=ctx, staff=user, outage=outage, override_reason=override_reason)
    return _out(result)


@router.post("/{ref}/extend", response_model=OutageOut)
async def extend_outage(ref: str, body: OutageExtend, session: SessionDep, ctx: CtxDep,
                        user: OperatorDep) -> OutageOut:
    """A later estimated restoration, told to everyone affected; repeating it changes nothing."""
    outage = await _get(session, ref)
    with _refusals():
        result = await dispatch.extend(session, ctx=ctx, staff=user, outage=outage, **body.model_dump())
    return _out(result)


@router.post("/{ref}/restore", response_model=OutageOut)
async def restore_outage(ref: str, session: SessionDep, ctx: CtxDep, user: OperatorDep,
                         body: OutageRestore | None = None) -> OutageOut:
    """Supply is back: tell the same audience; repeating it changes nothing."""
    outage = await _get(session, ref)
    with _refusals():
        result = await dispatch.restore(session, ctx=ctx, staff=user, outage=outage,
                                        restored_at=body.restored_at if body else None)
    return _out(result)

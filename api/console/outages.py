"""Console: outage notices (R9) and the broadcasts that carry them.

An operator drafts a notice, sees how many residents it reaches (by language) and the exact texts, then
announces it; a late notice is refused with the R9 reason unless a supervisor overrides it with a written
justification. Each announcement and follow-up is a broadcast whose progress the page polls (htmx) and
which can be paused, resumed or cancelled.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse

from api.deps import CsrfDep, CtxDep, OperatorDep, SessionDep, is_htmx
from api.templating import N_, gettext_for, render
from core import broadcasts, outages
from core.clock import LOCAL_TZ, local
from core.i18n import LOCALES
from db.enums import OutageKind, OutageStatus, Utility
from db.models import OutageNotice

router = APIRouter(include_in_schema=False, dependencies=[CsrfDep])

_SPLIT = re.compile(r"[\s,，、/]+")


class BroadcastAction(StrEnum):
    pause = "pause"
    resume = "resume"
    cancel = "cancel"


def _parse_time(request: Request, value: str, label: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        _ = gettext_for(request)
        raise outages.OutageError(_("%(field)s: not a date and time", field=label)) from None
    return dt.astimezone(LOCAL_TZ) if dt.tzinfo else dt.replace(tzinfo=LOCAL_TZ)


def _parse_lines(request: Request, text: str, parts: int, label: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        bits = [b for b in _SPLIT.split(line.strip()) if b]
        if len(bits) != parts:
            _ = gettext_for(request)
            raise outages.OutageError(_("%(field)s, line %(line)s: expected %(parts)s parts, e.g. %(example)s",
                                        field=label, line=n, parts=parts,
                                        example="城东区 人民路" if parts == 2 else "城东区 人民路 12"))
        rows.append(bits)
    return rows


def parse_area(request: Request, districts: list[str], streets: str, buildings: str) -> dict:
    _ = gettext_for(request)
    return {
        "districts": districts,
        "streets": [{"district": d, "street": s} for d, s in _parse_lines(request, streets, 2, _("Streets"))],
        "buildings": [{"district": d, "street": s, "building": b}
                      for d, s, b in _parse_lines(request, buildings, 3, _("Buildings"))],
    }


def _form_of(outage: OutageNotice | None = None) -> dict:
    if outage is None:
        return {"utility": "water", "kind": "planned", "districts": [], "streets": "", "buildings": "",
                "reason_zh": "", "reason_en": "", "starts_at": "", "restore_at": ""}
    return {"utility": outage.utility.value, "kind": outage.kind.value,
            "districts": outage.area.get("districts", []),
            "streets": "\n".join(f"{s['district']} {s['street']}" for s in outage.area.get("streets", [])),
            "buildings": "\n".join(f"{b['district']} {b['street']} {b['building']}"
                                   for b in outage.area.get("buildings", [])),
            "reason_zh": outage.reason_zh, "reason_en": outage.reason_en,
            "starts_at": local(outage.starts_at).strftime("%Y-%m-%dT%H:%M"),
            "restore_at": local(outage.restore_at).strftime("%Y-%m-%dT%H:%M")}


async def _list_page(request: Request, session, ctx, *, form: dict, error: str | None = None, code: int = 200):
    return render(request, "console/outages_list.html", status_code=code,
                  notices=await outages.list_notices(session), known=await outages.known_addresses(session),
                  form=form, error=error, utilities=list(Utility), kinds=list(OutageKind), now=ctx.clock.now(),
                  label=outages.area_label)


@router.get("/console/outages")
async def outages_page(request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    return await _list_page(request, session, ctx, form=_form_of())


@router.post("/console/outages")
async def create_outage(
    request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep,
    utility: Annotated[str, Form()], kind: Annotated[str, Form()],
    reason_zh: Annotated[str, Form()] = "", reason_en: Annotated[str, Form()] = "",
    starts_at: Annotated[str, Form()] = "", restore_at: Annotated[str, Form()] = "",
    districts: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies form defaults)
    streets: Annotated[str, Form()] = "", buildings: Annotated[str, Form()] = "",
):
    form = {"utility": utility, "kind": kind, "districts": districts, "streets": streets, "buildings": buildings,
            "reason_zh": reason_zh, "reason_en": reason_en, "starts_at": starts_at, "restore_at": restore_at}
    _ = gettext_for(request)
    try:
        if utility not in Utility.__members__ or kind not in OutageKind.__members__:
            raise outages.OutageError(_("Choose a utility and a kind"))
        outage = await outages.create_notice(
            session, ctx=ctx, staff=user, utility=Utility(utility), kind=OutageKind(kind), reason_zh=reason_zh,
            reason_en=reason_en, area=parse_area(request, districts, streets, buildings),
            starts_at=_parse_time(request, starts_at, _("Start")),
            restore_at=_parse_time(request, restore_at, _("Estimated restoration")),
        )
    except outages.OutageError as e:
        await _recover(session, user)
        return await _list_page(request, session, ctx, form=form, error=str(e), code=400)
    return RedirectResponse(f"/console/outages/{outage.id}", status_code=303)


async def _recover(session, user) -> None:
    """Undo a refused change; reload the staff member the page shows (a rollback expires every object)."""
    await session.rollback()
    await session.refresh(user)


async def _notice(session, outage_id: int) -> OutageNotice:
    outage = await outages.get_notice(session, outage_id)
    if outage is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, N_("no such notice"))
    return outage


async def _detail(request: Request, session, ctx, outage: OutageNotice, *, error: str | None = None,
                  code: int = 200, override_reason: str = ""):
    now = ctx.clock.now()
    await session.refresh(outage)
    problem = None
    preview = None
    texts = {}
    if outage.status is OutageStatus.draft:
        problem = outages.lead_time_problem(ctx.calendar, kind=outage.kind, starts_at=outage.starts_at, now=now)
        preview = await outages.audience_preview(session, outage)
        texts = {lang: outages.event_text(outage, "announced", lang, translator=ctx.translator) for lang in LOCALES}
    events = await outages.events_of(session, outage.id)
    progress = {b.id: await broadcasts.progress(session, b.id, now=now) for _, b in events if b is not None}
    return render(request, "console/outage_detail.html", status_code=code, outage=outage, problem=problem,
                  preview=preview, texts=texts, events=events, progress=progress, error=error, now=now,
                  area=outages.area_label(outage.area, "zh_Hans"), override_reason=override_reason,
                  form=_form_of(outage))


@router.get("/console/outages/{outage_id}")
async def outage_page(outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    return await _detail(request, session, ctx, await _notice(session, outage_id))


@router.post("/console/outages/{outage_id}/announce")
async def announce_outage(outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep,
                          override_reason: Annotated[str, Form()] = ""):
    outage = await _notice(session, outage_id)
    try:
        await outages.announce(session, ctx=ctx, outage=outage, staff=user, override_reason=override_reason or None)
    except outages.OutageError as e:
        await _recover(session, user)
        return await _detail(request, session, ctx, outage, error=str(e), code=409,
                             override_reason=override_reason)
    return RedirectResponse(f"/console/outages/{outage_id}", status_code=303)


@router.post("/console/outages/{outage_id}/update")
async def update_outage(outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep,
                        kind: Annotated[str, Form()], starts_at: Annotated[str, Form()] = "",
                        restore_at: Annotated[str, Form()] = "", note_zh: Annotated[str, Form()] = "",
                        note_en: Annotated[str, Form()] = ""):
    outage = await _notice(session, outage_id)
    _ = gettext_for(request)
    try:
        await outages.follow_up(
            session, ctx=ctx, outage=outage, staff=user, kind=kind, note_zh=note_zh, note_en=note_en,
            starts_at=_parse_time(request, starts_at, _("New start")) if starts_at.strip() else None,
            restore_at=_parse_time(request, restore_at, _("New est. restoration")) if restore_at.strip() else None,
        )
    except outages.OutageError as e:
        await _recover(session, user)
        return await _detail(request, session, ctx, outage, error=str(e), code=409)
    return RedirectResponse(f"/console/outages/{outage_id}", status_code=303)


@router.post("/console/outages/{outage_id}/edit")
async def edit_draft(
    outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep,
    reason_zh: Annotated[str, Form()] = "", reason_en: Annotated[str, Form()] = "",
    starts_at: Annotated[str, Form()] = "", restore_at: Annotated[str, Form()] = "",
    districts: Annotated[list[str], Form()] = [],  # noqa: B006
    streets: Annotated[str, Form()] = "", buildings: Annotated[str, Form()] = "",
):
    outage = await _notice(session, outage_id)
    _ = gettext_for(request)
    try:
        await outages.update_draft(session, ctx=ctx, outage=outage, staff=user, reason_zh=reason_zh,
                                   reason_en=reason_en, area=parse_area(request, districts, streets, buildings),
                                   starts_at=_parse_time(request, starts_at, _("Start")),
                                   restore_at=_parse_time(request, restore_at, _("Estimated restoration")))
    except outages.OutageError as e:
        await _recover(session, user)
        return await _detail(request, session, ctx, outage, error=str(e), code=400)
    return RedirectResponse(f"/console/outages/{outage_id}", status_code=303)


@router.post("/console/outages/{outage_id}/restore")
async def restore_outage(outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    outage = await _notice(session, outage_id)
    try:
        await outages.restore(session, ctx=ctx, outage=outage, staff=user)
    except outages.OutageError as e:
        await _recover(session, user)
        return await _detail(request, session, ctx, outage, error=str(e), code=409)
    return RedirectResponse(f"/console/outages/{outage_id}", status_code=303)


@router.post("/console/outages/{outage_id}/cancel")
async def cancel_outage(outage_id: int, request: Request, user: OperatorDep, ctx: CtxDep, session: SessionDep):
    outage = await _notice(session, outage_id)
    try:
        await outages.cancel(session, ctx=ctx, outage=outage, staff=user)
    except outages.OutageError as e:
        await _recover(session, user)
        return await _detail(request, session, ctx, outage, error=str(e), code=409)
    return RedirectResponse(f"/console/outages/{outage_id}", status_code=303)


@router.get("/console/broadcasts/{broadcast_id}/progress")
async def broadcast_progress(broadcast_id: int, request: Request, user: OperatorDep, ctx: CtxDep,
                             session: SessionDep):
    """The live progress box; it re-polls itself every 2 s while the broadcast is running or paused."""
    p = await broadcasts.progress(session, broadcast_id, now=ctx.clock.now())
    if p is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, N_("no such broadcast"))
    return render(request, "console/_broadcast_progress.html", p=p)


@router.post("/console/broadcasts/{broadcast_id}/{action}")
async def control_broadcast(broadcast_id: int, action: BroadcastAction, request: Request, user: OperatorDep,
                            ctx: CtxDep, session: SessionDep):
    fn = {BroadcastAction.pause: broadcasts.pause, BroadcastAction.resume: broadcasts.resume,
          BroadcastAction.cancel: broadcasts.cancel}[action]
    try:
        await fn(session, broadcast_id=broadcast_id, staff=user, now=ctx.clock.now())
        error = None
    except broadcasts.BroadcastError as e:
        await _recover(session, user)
        error = str(e)
    p = await broadcasts.progress(session, broadcast_id, now=ctx.clock.now())
    if p is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, N_("no such broadcast"))
    if is_htmx(request):
        return render(request, "console/_broadcast_progress.html", p=p, bc_error=error,
                      status_code=409 if error else 200)
    back = request.headers.get("referer", "")
    target = back if back.startswith(str(request.base_url)) else "/console/outages"
    if error:
        raise HTTPException(status.HTTP_409_CONFLICT, error)
    return RedirectResponse(target, status_code=303)

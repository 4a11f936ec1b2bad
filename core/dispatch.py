"""Outage notices from a dispatch / SCADA system (issue 15): the same R9 rules as the console, idempotent on
the caller's external id, so a retried request never announces an outage twice.

Create announces at once (unless asked for a draft). A late notice is refused with the R9 reason before
anything is written; only a supervisor-role token with a written justification may override, exactly as in
the console. Extending to the same restoration time again, or restoring a restored notice, is a replay and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import outages
from core.context import AppContext
from core.staff import has_role
from db.enums import OutageKind, OutageStatus, StaffRole, Utility
from db.models import Broadcast, OutageNotice, StaffUser


class Conflict(outages.OutageError):
    """The external id is already used by a notice with different content."""


@dataclass
class Result:
    outage: OutageNotice
    created: bool  # False: a replay of an earlier request (nothing changed)
    recipients: int | None = None


async def by_ref(session: AsyncSession, ref: str) -> OutageNotice | None:
    """A notice by the caller's external id, or by its number (TG-…)."""
    q = select(OutageNotice).where(OutageNotice.external_id == ref)
    found = (await session.execute(q)).scalar_one_or_none()
    if found is None:
        found = (await session.execute(select(OutageNotice).where(OutageNotice.number == ref))).scalar_one_or_none()
    return found


async def list_notices(session: AsyncSession, *, status: OutageStatus | None = None,
                       limit: int = 100) -> list[OutageNotice]:
    q = select(OutageNotice).order_by(OutageNotice.created_at.desc(), OutageNotice.id.desc()).limit(limit)
    if status is not None:
        q = q.where(OutageNotice.status == status)
    return list((await session.execute(q)).scalars())


def _same(outage: OutageNotice, *, utility: Utility, kind: OutageKind, reason_zh: str, starts_at: datetime,
          area: Mapping[str, Any]) -> bool:
    return (outage.utility is utility and outage.kind is kind and outage.reason_zh == reason_zh.strip()
            and outage.starts_at == starts_at and outage.area == outages.normalize_area(area))


async def create(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, external_id: str, utility: Utility,
                 kind: OutageKind, reason_zh: str, reason_en: str, area: Mapping[str, Any], starts_at: datetime,
                 restore_at: datetime, announce: bool = True, override_reason: str | None = None) -> Result:
    """Create (and by default announce) a notice once per external id; a replay returns the first one."""
    existing = await by_ref(session, external_id)
    if existing is not None and existing.external_id == external_id:
        if not _same(existing, utility=utility, kind=kind, reason_zh=reason_zh, starts_at=starts_at, area=area):
            raise Conflict(f"external_id {external_id!r} already names notice {existing.number} with other "
                           f"content · 该外部编号已用于内容不同的公告")
        return Result(existing, False)
    now = ctx.clock.now()
    if announce:  # R9: refuse a late notice before anything is written
        problem = outages.lead_time_problem(ctx.calendar, kind=kind, starts_at=starts_at, now=now)
        if problem and not (override_reason or "").strip():
            raise outages.LeadTimeError(problem)
        if problem and not has_role(staff.role, StaffRole.supervisor):
            raise outages.LeadTimeError(problem + " Only a supervisor can override · 仅主管可批准例外")
    try:
        outage = await outages.create_notice(
            session, ctx=ctx, staff=staff, utility=utility, kind=kind, reason_zh=reason_zh, reason_en=reason_en,
            area=area, starts_at=starts_at, restore_at=restore_at, external_id=external_id)
    except IntegrityError:  # the same external id created concurrently: that one wins
        await session.rollback()
        existing = await by_ref(session, external_id)
        if existing is None:
            raise
        return Result(existing, False)
    if not announce:
        return Result(outage, True)
    try:
        bc = await outages.announce(session, ctx=ctx, outage=outage, staff=staff, override_reason=override_reason)
    except outages.OutageError:
        await session.rollback()
        draft = await session.get(OutageNotice, outage.id)
        await session.delete(draft)  # nothing was sent: leave no half-made notice behind
        await session.commit()
        raise
    return Result(outage, True, bc.total)


async def announce(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, outage: OutageNotice,
                   override_reason: str | None = None) -> Result:
    if outage.status is not OutageStatus.draft:
        return Result(outage, False)
    bc = await outages.announce(session, ctx=ctx, outage=outage, staff=staff, override_reason=override_reason)
    return Result(outage, True, bc.total)


async def extend(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, outage: OutageNotice,
                 restore_at: datetime, note_zh: str = "", note_en: str = "") -> Result:
    """A later estimated restoration (R9), told to everyone affected; the same time again is a replay."""
    if outage.status is OutageStatus.announced and restore_at == outage.restore_at:
        return Result(outage, False)
    bc = await outages.follow_up(session, ctx=ctx, outage=outage, staff=staff, kind="extended", note_zh=note_zh,
                                 note_en=note_en, restore_at=restore_at)
    return Result(outage, True, bc.total)


async def update(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, outage: OutageNotice,
                 starts_at: datetime | None = None, restore_at: datetime | None = None, note_zh: str = "",
                 note_en: str = "", reason_zh: str | None = None, reason_en: str | None = None,
                 area: Mapping[str, Any] | None = None) -> Result:
    """A draft is edited; an announced notice gets a delay (later start) or a progress note (R9)."""
    if outage.status is OutageStatus.draft:
        changes: dict[str, Any] = {k: v for k, v in (("starts_at", starts_at), ("restore_at", restore_at),
                                                     ("reason_zh", reason_zh), ("reason_en", reason_en),
                                                     ("area", area)) if v is not None}
        if not changes:
            raise outages.OutageError("Nothing to change · 没有需要修改的内容")
        await outages.update_draft(session, ctx=ctx, outage=outage, staff=staff, **changes)
        return Result(outage, True)
    if reason_zh is not None or reason_en is not None or area is not None:
        raise outages.OutageError("An announced notice's reason and area cannot change; cancel it and announce "
                                  "a new one · 已发布公告的原因和范围不能修改")
    if starts_at is not None:
        if starts_at == outage.starts_at:
            return Result(outage, False)
        bc = await outages.follow_up(session, ctx=ctx, outage=outage, staff=staff, kind="delayed", note_zh=note_zh,
                                     note_en=note_en, starts_at=starts_at, restore_at=restore_at)
        return Result(outage, True, bc.total)
    if restore_at is not None:
        return await extend(session, ctx=ctx, staff=staff, outage=outage, restore_at=restore_at, note_zh=note_zh,
                            note_en=note_en)
    bc = await outages.follow_up(session, ctx=ctx, outage=outage, staff=staff, kind="progress", note_zh=note_zh,
                                 note_en=note_en)
    return Result(outage, True, bc.total)


async def restore(session: AsyncSession, *, ctx: AppContext, staff: StaffUser, outage: OutageNotice,
                  restored_at: datetime | None = None) -> Result:
    if outage.status is OutageStatus.restored:
        return Result(outage, False)
    bc: Broadcast = await outages.restore(session, ctx=ctx, outage=outage, staff=staff, restored_at=restored_at)
    return Result(outage, True, bc.total)

"""Notices through their life (R9): draft, lead-time check, announce, follow up, restore, cancel."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, language_guard
from core.calendar import WorkCalendar
from core.clock import local
from core.context import AppContext
from core.numbers import next_number
from core.outages.areas import normalize_area, unmatched_area_entries
from core.outages.audience import broadcast_event
from core.outages.base import (
    FOLLOW_UP_KINDS,
    MAX_NOTE,
    MAX_REASON,
    MIN_OVERRIDE_REASON,
    NUMBER_PREFIX,
    PLANNED_LEAD_WORKING_DAYS,
    TEMPORARY_LEAD,
    ImpoliteNotice,
    LeadTimeError,
    OutageError,
)
from core.staff import has_role
from db.enums import OutageKind, OutageStatus, StaffRole, Utility
from db.models import Broadcast, OutageEvent, OutageNotice, StaffUser
from db.session import dialect_name


def _polite(text: str, what: str) -> None:
    """R14: outage notices are staff text sent to residents; the language guard applies to them too."""
    try:
        language_guard.require_polite(text, what=what)
    except language_guard.ForbiddenPhrase as e:
        raise ImpoliteNotice(str(e)) from None


# --- R9 lead time ----------------------------------------------------------------------------------------


def lead_time_problem(calendar: WorkCalendar, *, kind: OutageKind, starts_at: datetime, now: datetime) -> str | None:
    """Why announcing now is too late under R9, or None. Planned work: the start must be at least 7 working
    days after today; temporary work: at least 24 hours away; emergencies: immediately, no lead time."""
    if kind is OutageKind.emergency:
        return None
    if kind is OutageKind.temporary:
        if starts_at - now >= TEMPORARY_LEAD:
            return None
        hours = max(0.0, (starts_at - now).total_seconds() / 3600)
        return (f"R9: temporary work must be announced at least 24 hours ahead; it starts in {hours:.1f} h. "
                f"· R9：临时停供须提前24小时通知，距开始仅{hours:.1f}小时。")
    today = local(now).date()
    start_day = local(starts_at).date()
    days = calendar.working_days_between(today, start_day) if start_day > today else 0
    if days >= PLANNED_LEAD_WORKING_DAYS and starts_at > now:
        return None
    earliest = calendar.add_working_days(today, PLANNED_LEAD_WORKING_DAYS)
    return (f"R9: planned work must be announced at least {PLANNED_LEAD_WORKING_DAYS} working days ahead; "
            f"it starts in {days} working day(s). Earliest start if announced today: {earliest:%Y-%m-%d}. "
            f"· R9：计划停供须提前{PLANNED_LEAD_WORKING_DAYS}个工作日公告，距开始仅{days}个工作日；"
            f"今日公告最早可安排在{earliest:%Y-%m-%d}。")


# --- creating and changing notices ---------------------------------------------------------------------------


def _check_reason(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise OutageError(f"The reason ({what}) is required (R9) · 须填写原因")
    if len(text) > MAX_REASON:
        raise OutageError(f"The reason ({what}) is too long (max {MAX_REASON}) · 原因过长")
    _polite(text, f"reason ({what})")
    return text


def _check_times(starts_at: datetime, restore_at: datetime) -> None:
    if starts_at.tzinfo is None or restore_at.tzinfo is None:
        raise OutageError("Times must carry a timezone · 时间须含时区")
    if restore_at <= starts_at:
        raise OutageError("The estimated restoration must be after the start · 预计恢复时间须晚于开始时间")
    if restore_at - starts_at > timedelta(days=30):
        raise OutageError("An outage longer than 30 days is not accepted; check the dates · 停供超过30天，请核对日期")


async def create_notice(
    session: AsyncSession,
    *,
    ctx: AppContext,
    staff: StaffUser,
    utility: Utility,
    kind: OutageKind,
    reason_zh: str,
    reason_en: str,
    area: Mapping[str, Any],
    starts_at: datetime,
    restore_at: datetime,
    external_id: str | None = None,
) -> OutageNotice:
    """Save a draft notice (nothing is sent until ``announce``); commits.

    ``external_id``: a dispatch system's own id of the notice (unique; the dispatch API is idempotent on it).
    """
    now = ctx.clock.now()
    reason_zh = _check_reason(reason_zh, "中文")
    reason_en = _check_reason(reason_en, "English")
    area = normalize_area(area)
    _check_times(starts_at, restore_at)
    if kind is not OutageKind.emergency and starts_at < now:
        raise OutageError("Planned and temporary work must start in the future · 计划/临时停供的开始时间须晚于当前时间")
    unknown = await unmatched_area_entries(session, area)
    if unknown:
        raise OutageError("No account address matches: " + ", ".join(unknown[:10]) + " · 以下地址无对应用户，请核对")
    outage = OutageNotice(
        number=await next_number(session, NUMBER_PREFIX, now), utility=utility, kind=kind,
        status=OutageStatus.draft, reason_zh=reason_zh, reason_en=reason_en, area=area, starts_at=starts_at,
        restore_at=restore_at, created_by_id=staff.id, created_at=now, external_id=external_id,
    )
    session.add(outage)
    await session.flush()
    audit.record(session, at=now, staff_id=staff.id, action="outage.create", target_type="outage",
                 target_id=outage.id, kind=kind.value, utility=utility.value)
    await session.commit()
    return outage


async def update_draft(session: AsyncSession, *, ctx: AppContext, outage: OutageNotice, staff: StaffUser,
                       **changes: Any) -> OutageNotice:
    """Edit a draft before it is announced (same checks as creation); commits."""
    if outage.status is not OutageStatus.draft:
        raise OutageError("Only a draft can be edited · 只能修改草稿")
    if "reason_zh" in changes:
        outage.reason_zh = _check_reason(changes["reason_zh"], "中文")
    if "reason_en" in changes:
        outage.reason_en = _check_reason(changes["reason_en"], "English")
    if "area" in changes:
        area = normalize_area(changes["area"])
        unknown = await unmatched_area_entries(session, area)
        if unknown:
            raise OutageError("No account address matches: " + ", ".join(unknown[:10]) + " · 以下地址无对应用户")
        outage.area = area
    starts_at = changes.get("starts_at", outage.starts_at)
    restore_at = changes.get("restore_at", outage.restore_at)
    _check_times(starts_at, restore_at)
    outage.starts_at, outage.restore_at = starts_at, restore_at
    audit.record(session, at=ctx.clock.now(), staff_id=staff.id, action="outage.edit", target_type="outage",
                 target_id=outage.id, fields=sorted(changes))
    await session.commit()
    return outage


async def _locked(session: AsyncSession, outage_id: int) -> OutageNotice:
    """Re-read the notice with a row lock (PostgreSQL) so two clicks cannot both change it."""
    q = select(OutageNotice).where(OutageNotice.id == outage_id).execution_options(populate_existing=True)
    if dialect_name(session) == "postgresql":
        q = q.with_for_update()
    outage = (await session.execute(q)).scalar_one_or_none()
    if outage is None:
        raise OutageError("No such notice · 公告不存在")
    return outage


async def announce(session: AsyncSession, *, ctx: AppContext, outage: OutageNotice, staff: StaffUser,
                   override_reason: str | None = None) -> Broadcast:
    """Send a draft to its audience. R9 lead times are enforced at this moment; a late notice goes out only
    with a supervisor's recorded justification. Commits the status, the event and every outbox row at once."""
    outage = await _locked(session, outage.id)
    if outage.status is not OutageStatus.draft:
        raise OutageError("This notice was already announced · 该公告已发布")
    now = ctx.clock.now()
    problem = lead_time_problem(ctx.calendar, kind=outage.kind, starts_at=outage.starts_at, now=now)
    if problem:
        justification = (override_reason or "").strip()
        if not justification:
            raise LeadTimeError(problem)
        if not has_role(staff.role, StaffRole.supervisor):
            raise LeadTimeError(problem + " Only a supervisor can override · 仅主管可批准例外")
        if len(justification) < MIN_OVERRIDE_REASON:
            raise LeadTimeError(f"Give a real justification (at least {MIN_OVERRIDE_REASON} characters) "
                                "· 请填写例外理由（至少10个字）")
        outage.override_by_id = staff.id
        outage.override_reason = justification[:MAX_NOTE]
        audit.record(session, at=now, staff_id=staff.id, action="outage.override", target_type="outage",
                     target_id=outage.id, problem=problem)
    outage.status = OutageStatus.announced
    outage.announced_at = now
    event = OutageEvent(outage_id=outage.id, kind="announced", staff_id=staff.id, at=now)
    session.add(event)
    await session.flush()
    bc = await broadcast_event(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id, include_told=False)
    audit.record(session, at=now, staff_id=staff.id, action="outage.announce", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def follow_up(
    session: AsyncSession,
    *,
    ctx: AppContext,
    outage: OutageNotice,
    staff: StaffUser,
    kind: str,
    note_zh: str = "",
    note_en: str = "",
    starts_at: datetime | None = None,
    restore_at: datetime | None = None,
) -> Broadcast:
    """A delay (new start), an extension (new estimated restoration) or a progress note (emergencies, R9),
    broadcast to everyone told before plus the current audience. Commits."""
    if kind not in FOLLOW_UP_KINDS:
        raise OutageError(f"Unknown update kind {kind!r}")
    outage = await _locked(session, outage.id)
    if outage.status is not OutageStatus.announced:
        raise OutageError("Only an announced, unrestored notice can be updated · 只能更新已发布且未恢复的公告")
    note_zh, note_en = (note_zh or "").strip(), (note_en or "").strip()
    if len(note_zh) > MAX_NOTE or len(note_en) > MAX_NOTE:
        raise OutageError("The note is too long · 说明过长")
    _polite(note_zh, "note (中文)")
    _polite(note_en, "note (English)")
    now = ctx.clock.now()
    if kind == "delayed":
        if starts_at is None or starts_at <= outage.starts_at:
            raise OutageError("A delay needs a later start time · 延期须填写更晚的开始时间")
        new_restore = restore_at or starts_at + (outage.restore_at - outage.starts_at)
        _check_times(starts_at, new_restore)
        outage.starts_at, outage.restore_at = starts_at, new_restore
        outage.reminder_sent_at = None  # the day-before reminder follows the new date
    elif kind == "extended":
        if restore_at is None or restore_at <= outage.restore_at:
            raise OutageError("An extension needs a later restoration time · 延长须填写更晚的恢复时间")
        _check_times(outage.starts_at, restore_at)
        outage.restore_at = restore_at
    elif not note_zh:
        raise OutageError("A progress update needs a note · 进展通报须填写说明")
    event = OutageEvent(outage_id=outage.id, kind=kind, staff_id=staff.id, at=now,
                        note="\n".join(n for n in (note_zh, note_en) if n) or None)
    session.add(event)
    await session.flush()
    bc = await broadcast_event(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id,
                               notes={"zh_Hans": note_zh, "en": note_en or note_zh})
    audit.record(session, at=now, staff_id=staff.id, action=f"outage.{kind}", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def restore(session: AsyncSession, *, ctx: AppContext, outage: OutageNotice, staff: StaffUser,
                  restored_at: datetime | None = None) -> Broadcast:
    """Supply is back: tell the same audience. Commits."""
    outage = await _locked(session, outage.id)
    if outage.status is not OutageStatus.announced:
        raise OutageError("Only an announced notice can be restored · 只能对已发布的公告发布恢复通知")
    now = ctx.clock.now()
    outage.status = OutageStatus.restored
    outage.restored_at = min(restored_at or now, now)
    event = OutageEvent(outage_id=outage.id, kind="restored", staff_id=staff.id, at=now)
    session.add(event)
    await session.flush()
    bc = await broadcast_event(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id)
    audit.record(session, at=now, staff_id=staff.id, action="outage.restore", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def cancel(session: AsyncSession, *, ctx: AppContext, outage: OutageNotice, staff: StaffUser) -> Broadcast | None:
    """Withdraw a notice. A draft is simply cancelled; an announced one tells its audience. Commits."""
    outage = await _locked(session, outage.id)
    if outage.status not in (OutageStatus.draft, OutageStatus.announced):
        raise OutageError("This notice can no longer be cancelled · 该公告无法撤销")
    now = ctx.clock.now()
    was_announced = outage.status is OutageStatus.announced
    outage.status = OutageStatus.cancelled
    bc = None
    if was_announced:
        event = OutageEvent(outage_id=outage.id, kind="cancelled", staff_id=staff.id, at=now)
        session.add(event)
        await session.flush()
        bc = await broadcast_event(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id)
    audit.record(session, at=now, staff_id=staff.id, action="outage.cancel", target_type="outage",
                 target_id=outage.id)
    await session.commit()
    return bc


# --- console lists ---------------------------------------------------------------------------------------------


async def list_notices(session: AsyncSession, *, limit: int = 100) -> list[OutageNotice]:
    q = select(OutageNotice).order_by(OutageNotice.created_at.desc(), OutageNotice.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def get_notice(session: AsyncSession, outage_id: int) -> OutageNotice | None:
    return await session.get(OutageNotice, outage_id)


async def events_of(session: AsyncSession, outage_id: int) -> list[tuple[OutageEvent, Broadcast | None]]:
    rows = await session.execute(
        select(OutageEvent, Broadcast).outerjoin(Broadcast, Broadcast.outage_event_id == OutageEvent.id)
        .where(OutageEvent.outage_id == outage_id).order_by(OutageEvent.id)
    )
    return [(e, b) for e, b in rows]

"""Outage notices (R9): announce, follow up and restore; who is affected; what to tell a resident who asks.

An outage's *area* is structured like the accounts' addresses::

    {"districts": ["城东区"],
     "streets":   [{"district": "城西区", "street": "建设路"}],
     "buildings": [{"district": "城南区", "street": "南山路", "building": "12"}]}

Who hears a notice: every resident with a linked account whose address is in the area (whatever the
account's utility: a water cut affects everyone living in the building), plus every resident subscribed
to one of the area's districts. Follow-ups (delay, extension, reminder, restoration, cancellation) go to
that audience again, together with everyone already told about this outage, one message per resident per
update (the outbox ``dedupe_key`` makes a repeat impossible).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from babel.dates import format_datetime
from sqlalchemy import func, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, broadcasts, language_guard
from core.calendar import WorkCalendar
from core.clock import LOCAL_TZ, local
from core.i18n import DEFAULT_LOCALE, LOCALES, Translator, normalize_locale
from core.numbers import next_number
from core.outbox import message_payload
from core.staff import has_role
from db.enums import AccountState, OutageKind, OutageStatus, OutboxStatus, StaffRole, Utility
from db.models import (
    AccountLink,
    Broadcast,
    DistrictSubscription,
    OutageEvent,
    OutageNotice,
    OutboxNotification,
    Resident,
    StaffUser,
    UtilityAccount,
)


def N_(message: str) -> str:
    """Mark a msgid for extraction; it is translated later, in the resident's language."""
    return message


# R9 lead times.
PLANNED_LEAD_WORKING_DAYS = 7
TEMPORARY_LEAD = timedelta(hours=24)
# An announced outage whose estimated restoration passed this long ago without a restoration or extension
# is no longer treated as "the reason" for a fault: a forgotten notice must not swallow new fault reports (R8).
STALE_AFTER = timedelta(hours=12)
REMINDER_FROM = time(9, 0)  # day-before reminders are not sent at night
MAX_AREA_ENTRIES = 300
MAX_REASON = 1000
MAX_NOTE = 1000
MIN_OVERRIDE_REASON = 10
NUMBER_PREFIX = "TG"  # 停供

TITLES: dict[tuple[OutageKind, Utility], str] = {
    (OutageKind.planned, Utility.water): N_("Planned water outage"),
    (OutageKind.temporary, Utility.water): N_("Temporary water outage"),
    (OutageKind.emergency, Utility.water): N_("Emergency water outage"),
    (OutageKind.planned, Utility.gas): N_("Planned gas outage"),
    (OutageKind.temporary, Utility.gas): N_("Temporary gas outage"),
    (OutageKind.emergency, Utility.gas): N_("Emergency gas outage"),
    (OutageKind.planned, Utility.power): N_("Planned power outage"),
    (OutageKind.temporary, Utility.power): N_("Temporary power outage"),
    (OutageKind.emergency, Utility.power): N_("Emergency power outage"),
}
ICONS = {OutageKind.planned: "📢", OutageKind.temporary: "⚠️", OutageKind.emergency: "🚨"}
FOLLOW_UP_KINDS = ("delayed", "extended", "progress")


class OutageError(ValueError):
    """A request the service refuses; the message is shown to staff as is (English · 中文)."""


class ImpoliteNotice(OutageError):
    """R14: the reason or note of a notice contains a forbidden phrase."""


def _polite(text: str, what: str) -> None:
    """R14: outage notices are staff text sent to residents; the language guard applies to them too."""
    try:
        language_guard.require_polite(text, what=what)
    except language_guard.ForbiddenPhrase as e:
        raise ImpoliteNotice(str(e)) from None


class LeadTimeError(OutageError):
    """R9: the notice comes too late; only a supervisor's recorded justification lets it through."""


# --- areas -------------------------------------------------------------------------------------------------


def _clean(value: Any, limit: int = 128) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise OutageError(f"Address part too long: {text[:30]}… · 地址过长")
    return text


def normalize_area(raw: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Validate and canonicalise an area (whitespace trimmed, duplicates dropped, narrower entries kept only
    when no wider entry already covers them)."""
    districts = sorted({_clean(d, 64) for d in raw.get("districts") or [] if _clean(d, 64)})
    streets: dict[tuple[str, str], dict[str, str]] = {}
    for s in raw.get("streets") or []:
        d, st = _clean(s.get("district"), 64), _clean(s.get("street"))
        if not d or not st:
            raise OutageError("A street needs its district · 街道需注明所属区")
        if d not in districts:
            streets[(d, st)] = {"district": d, "street": st}
    buildings: dict[tuple[str, str, str], dict[str, str]] = {}
    for b in raw.get("buildings") or []:
        d, st, bl = _clean(b.get("district"), 64), _clean(b.get("street")), _clean(b.get("building"), 32)
        if not d or not st or not bl:
            raise OutageError("A building needs its district and street · 楼栋需注明区和街道")
        if d not in districts and (d, st) not in streets:
            buildings[(d, st, bl)] = {"district": d, "street": st, "building": bl}
    area = {"districts": districts, "streets": list(streets.values()), "buildings": list(buildings.values())}
    size = len(districts) + len(streets) + len(buildings)
    if size == 0:
        raise OutageError("The area is empty: choose at least one district, street or building · 请填写停供范围")
    if size > MAX_AREA_ENTRIES:
        raise OutageError(f"At most {MAX_AREA_ENTRIES} area entries · 范围条目过多")
    return area


def area_districts(area: Mapping[str, Any]) -> list[str]:
    """Every district the area touches (wholly or in part)."""
    found = set(area.get("districts") or [])
    found |= {s["district"] for s in area.get("streets") or []}
    found |= {b["district"] for b in area.get("buildings") or []}
    return sorted(found)


def area_matches(area: Mapping[str, Any], *, district: str | None, street: str | None = None,
                 building: str | None = None) -> bool:
    """Is the address in the area? An unknown (None) street or building counts as "maybe": a notice for part
    of the district matches a location known only to the district."""
    if not district:
        return False
    district = _clean(district, 64)
    street = _clean(street) if street else None
    building = _clean(building, 32) if building else None
    if district in (area.get("districts") or []):
        return True
    for s in area.get("streets") or []:
        if s["district"] == district and (street is None or s["street"] == street):
            return True
    for b in area.get("buildings") or []:
        if b["district"] == district and (street is None or b["street"] == street) and (
            building is None or b["building"] == building
        ):
            return True
    return False


def _area_clause(area: Mapping[str, Any]):
    """The area as a condition on UtilityAccount's structured address."""
    from sqlalchemy import and_, false, or_

    conds = []
    if area.get("districts"):
        conds.append(UtilityAccount.district.in_(area["districts"]))
    for s in area.get("streets") or []:
        conds.append(and_(UtilityAccount.district == s["district"], UtilityAccount.street == s["street"]))
    for b in area.get("buildings") or []:
        conds.append(and_(UtilityAccount.district == b["district"], UtilityAccount.street == b["street"],
                          UtilityAccount.building == b["building"]))
    return or_(*conds) if conds else false()


def area_label(area: Mapping[str, Any], lang: str | None = None) -> str:
    """Human-readable area: districts, then streets, then buildings."""
    en = _locale(lang) == "en"
    parts = list(area.get("districts") or [])
    parts += [f"{s['district']} {s['street']}" for s in area.get("streets") or []]
    for b in area.get("buildings") or []:
        parts.append(f"{b['district']} {b['street']} " + (f"bldg {b['building']}" if en
                                                          else f"{b['building']}号楼"))
    return ("; " if en else "；").join(parts)


async def known_addresses(session: AsyncSession) -> dict[str, dict[str, list[str]]]:
    """{district: {street: [buildings]}} of all accounts: what an operator can pick an area from."""
    rows = await session.execute(
        select(UtilityAccount.district, UtilityAccount.street, UtilityAccount.building).distinct()
    )
    out: dict[str, dict[str, set[str]]] = {}
    for d, s, b in rows:
        out.setdefault(d, {}).setdefault(s, set()).add(b)

    def key(b: str) -> tuple[int, str]:
        return (int(b), "") if b.isdigit() else (10**9, b)

    return {d: {s: sorted(bs, key=key) for s, bs in sorted(streets.items())} for d, streets in sorted(out.items())}


async def known_districts(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(UtilityAccount.district).distinct().order_by(UtilityAccount.district))
    return [d for (d,) in rows]


async def unmatched_area_entries(session: AsyncSession, area: Mapping[str, Any]) -> list[str]:
    """Area entries that match no account address: almost always a typo."""
    known = await known_addresses(session)
    bad = [d for d in area.get("districts") or [] if d not in known]
    bad += [f"{s['district']} {s['street']}" for s in area.get("streets") or []
            if s["street"] not in known.get(s["district"], {})]
    bad += [f"{b['district']} {b['street']} {b['building']}" for b in area.get("buildings") or []
            if b["building"] not in known.get(b["district"], {}).get(b["street"], [])]
    return bad


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
    ctx: Any,
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


async def update_draft(session: AsyncSession, *, ctx: Any, outage: OutageNotice, staff: StaffUser,
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
    if session.bind.dialect.name == "postgresql":
        q = q.with_for_update()
    outage = (await session.execute(q)).scalar_one_or_none()
    if outage is None:
        raise OutageError("No such notice · 公告不存在")
    return outage


async def announce(session: AsyncSession, *, ctx: Any, outage: OutageNotice, staff: StaffUser,
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
    bc = await _broadcast(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id, include_told=False)
    audit.record(session, at=now, staff_id=staff.id, action="outage.announce", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def follow_up(
    session: AsyncSession,
    *,
    ctx: Any,
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
    bc = await _broadcast(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id,
                          notes={"zh_Hans": note_zh, "en": note_en or note_zh})
    audit.record(session, at=now, staff_id=staff.id, action=f"outage.{kind}", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def restore(session: AsyncSession, *, ctx: Any, outage: OutageNotice, staff: StaffUser,
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
    bc = await _broadcast(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id)
    audit.record(session, at=now, staff_id=staff.id, action="outage.restore", target_type="outage",
                 target_id=outage.id, recipients=bc.total)
    await session.commit()
    return bc


async def cancel(session: AsyncSession, *, ctx: Any, outage: OutageNotice, staff: StaffUser) -> Broadcast | None:
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
        bc = await _broadcast(session, ctx=ctx, outage=outage, event=event, staff_id=staff.id)
    audit.record(session, at=now, staff_id=staff.id, action="outage.cancel", target_type="outage",
                 target_id=outage.id)
    await session.commit()
    return bc


def reminder_due(outage: OutageNotice, now: datetime) -> bool:
    """Planned work gets a reminder on the day before (from 09:00), unless it was announced that late."""
    if outage.kind is not OutageKind.planned or outage.status is not OutageStatus.announced:
        return False
    if outage.reminder_sent_at is not None or outage.starts_at <= now:
        return False
    day_before = local(outage.starts_at).date() - timedelta(days=1)
    today = local(now).date()
    return today > day_before or (today == day_before and local(now).time() >= REMINDER_FROM)


async def send_due_reminders(ctx: Any) -> int:
    """Scheduler job: day-before reminders. Idempotent: the conditional update lets one worker win."""
    now = ctx.clock.now()
    sent = 0
    async with ctx.sessionmaker() as session:
        candidates = (await session.execute(
            select(OutageNotice).where(OutageNotice.status == OutageStatus.announced,
                                       OutageNotice.kind == OutageKind.planned,
                                       OutageNotice.reminder_sent_at.is_(None),
                                       OutageNotice.starts_at > now)
        )).scalars().all()
        for outage in candidates:
            if not reminder_due(outage, now):
                continue
            claimed = await session.execute(
                update(OutageNotice)
                .where(OutageNotice.id == outage.id, OutageNotice.reminder_sent_at.is_(None),
                       OutageNotice.status == OutageStatus.announced)
                .values(reminder_sent_at=now)
            )
            if claimed.rowcount != 1:
                await session.rollback()
                continue
            if outage.announced_at and local(outage.announced_at).date() >= local(outage.starts_at).date() - \
                    timedelta(days=1):
                await session.commit()  # announced the day before or later: the notice itself was the reminder
                continue
            event = OutageEvent(outage_id=outage.id, kind="reminder", at=now)
            session.add(event)
            await session.flush()
            await _broadcast(session, ctx=ctx, outage=outage, event=event, staff_id=None)
            await session.commit()
            sent += 1
    return sent


# --- audience ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudiencePreview:
    by_language: dict[str, int]
    blocked: int  # residents in the area who blocked the bot: they cannot be told here
    linked: int  # through a linked account in the area
    subscribed: int  # through a district subscription only

    @property
    def total(self) -> int:
        return sum(self.by_language.values())


def _audience_ids(outage: OutageNotice, *, include_told: bool):
    linked = (
        select(AccountLink.resident_id)
        .join(UtilityAccount, UtilityAccount.id == AccountLink.account_id)
        .where(_area_clause(outage.area), UtilityAccount.state != AccountState.dismantled)
    )
    subscribed = select(DistrictSubscription.resident_id).where(
        DistrictSubscription.district.in_(area_districts(outage.area))
    )
    parts = [linked, subscribed]
    if include_told and outage.id is not None:
        parts.append(
            select(OutboxNotification.resident_id)
            .join(Broadcast, Broadcast.id == OutboxNotification.broadcast_id)
            .join(OutageEvent, OutageEvent.id == Broadcast.outage_event_id)
            .where(OutageEvent.outage_id == outage.id, OutboxNotification.status != OutboxStatus.cancelled)
        )
    return union(*parts).subquery()


async def audience(session: AsyncSession, outage: OutageNotice, *, include_told: bool = True
                   ) -> list[tuple[int, str]]:
    """(resident id, language) of everyone to tell, each once; residents who blocked the bot are left out."""
    ids = _audience_ids(outage, include_told=include_told)
    rows = await session.execute(
        select(Resident.id, Resident.language).where(Resident.id.in_(select(ids.c[0])), Resident.blocked.is_(False))
        .order_by(Resident.id)
    )
    return [(rid, lang if lang in LOCALES else DEFAULT_LOCALE) for rid, lang in rows]


async def audience_preview(session: AsyncSession, outage: OutageNotice) -> AudiencePreview:
    """How many residents a notice will reach, by language, before it is sent."""
    ids = _audience_ids(outage, include_told=True)
    rows = await session.execute(
        select(Resident.language, Resident.blocked, func.count()).where(Resident.id.in_(select(ids.c[0])))
        .group_by(Resident.language, Resident.blocked)
    )
    by_language = dict.fromkeys(LOCALES, 0)
    blocked = 0
    for lang, is_blocked, n in rows:
        if is_blocked:
            blocked += n
        else:
            by_language[lang if lang in LOCALES else DEFAULT_LOCALE] += n
    linked_q = (
        select(func.count(func.distinct(AccountLink.resident_id)))
        .join(UtilityAccount, UtilityAccount.id == AccountLink.account_id)
        .join(Resident, Resident.id == AccountLink.resident_id)
        .where(_area_clause(outage.area), UtilityAccount.state != AccountState.dismantled,
               Resident.blocked.is_(False))
    )
    linked = (await session.execute(linked_q)).scalar_one()
    return AudiencePreview(by_language, blocked, linked, max(0, sum(by_language.values()) - linked))


async def _broadcast(session: AsyncSession, *, ctx: Any, outage: OutageNotice, event: OutageEvent,
                     staff_id: int | None, include_told: bool = True,
                     notes: Mapping[str, str] | None = None) -> Broadcast:
    recipients = await audience(session, outage, include_told=include_told)
    translator = ctx.translator
    texts = {lang: event_text(outage, event.kind, lang, note=(notes or {}).get(lang), translator=translator)
             for lang in LOCALES}
    title = f"{outage.number} {event.kind}: {area_label(outage.area, 'en')}"[:255]
    return await broadcasts.fan_out(
        session, title=title, kind=f"outage_{event.kind}", recipients=recipients,
        payloads={lang: message_payload(text) for lang, text in texts.items()},
        now=ctx.clock.now(), staff_id=staff_id, outage_event_id=event.id,
        # Once-only updates share a fixed key, so even a racing double click cannot send them twice.
        dedupe_prefix=f"outage:{outage.id}:{event.kind}" if event.kind in ("announced", "restored", "cancelled")
        else f"outage:{outage.id}:e{event.id}",
    )


# --- what residents are told -----------------------------------------------------------------------------


@cache
def _default_translator() -> Translator:
    from core.settings import ROOT

    return Translator(ROOT / "bot" / "locales")


def _locale(lang: str | None) -> str:
    return lang if lang in LOCALES else normalize_locale(lang)


def _when(dt: datetime, lang: str) -> str:
    if lang == "en":
        return format_datetime(dt, "EEE d MMM, HH:mm", locale="en", tzinfo=LOCAL_TZ)
    return format_datetime(dt, "M月d日 EEE HH:mm", locale="zh_Hans_CN", tzinfo=LOCAL_TZ)


def outage_title(outage: OutageNotice, lang: str | None, *, translator: Translator | None = None) -> str:
    lang = _locale(lang)
    return (translator or _default_translator()).gettext(lang, TITLES[(outage.kind, outage.utility)])


def _body(outage: OutageNotice, lang: str, gettext: Any) -> list[str]:
    reason = outage.reason_en if lang == "en" else outage.reason_zh
    return [
        gettext(N_("Area: {area}")).format(area=html.escape(area_label(outage.area, lang))),
        gettext(N_("From: {start}")).format(start=_when(outage.starts_at, lang)),
        gettext(N_("Estimated restoration: {restore}")).format(restore=_when(outage.restore_at, lang)),
        gettext(N_("Reason: {reason}")).format(reason=html.escape(reason)),
    ]


def outage_text(outage: OutageNotice, lang: str | None, *, now: datetime | None = None,
                translator: Translator | None = None) -> str:
    """The notice as a resident reads it (HTML): what, where, from when, estimated restoration, reason and an
    apology (R9). With ``now``, also whether it is under way or overdue."""
    lang = _locale(lang)
    tr = translator or _default_translator()

    def gettext(msg: str) -> str:
        return tr.gettext(lang, msg)

    lines = [f"{ICONS[outage.kind]} <b>{html.escape(outage_title(outage, lang, translator=tr))}</b> · "
             f"{outage.number}"]
    if now is not None and outage.status is OutageStatus.announced and outage.starts_at <= now:
        if outage.restore_at < now:
            lines.append(gettext(N_("Restoration is taking longer than estimated; our crews are working on it.")))
        else:
            lines.append(gettext(N_("In progress now.")))
    lines += _body(outage, lang, gettext)
    lines.append(gettext(N_("We apologise for the inconvenience and thank you for your understanding.")))
    return "\n".join(lines)


def event_text(outage: OutageNotice, kind: str, lang: str | None, *, note: str | None = None,
               translator: Translator | None = None) -> str:
    """The broadcast text of one update of a notice, in one language."""
    lang = _locale(lang)
    tr = translator or _default_translator()

    def gettext(msg: str) -> str:
        return tr.gettext(lang, msg)

    title = html.escape(outage_title(outage, lang, translator=tr))
    head = f"{ICONS[outage.kind]} <b>{title}</b> · {outage.number}"
    note_line = [gettext(N_("Note: {note}")).format(note=html.escape(note))] if note else []
    if kind == "restored":
        when = _when(outage.restored_at or outage.restore_at, lang)
        return "\n".join([
            gettext(N_("✅ <b>Supply restored</b>")) + f" · {outage.number}",
            gettext(N_("{title} · {area}: supply was restored at {time}. Thank you for your patience.")).format(
                title=title, area=html.escape(area_label(outage.area, lang)), time=when),
        ])
    if kind == "cancelled":
        return "\n".join([
            gettext(N_("ℹ️ <b>Notice withdrawn</b>")) + f" · {outage.number}",
            gettext(N_("{title} · {area}: this work will not take place; supply continues as normal. "
                       "Sorry for any confusion.")).format(title=title,
                                                           area=html.escape(area_label(outage.area, lang))),
        ])
    lead = {
        "announced": [],
        "reminder": [gettext(N_("⏰ Reminder: this work starts {start}.")).format(
            start=_when(outage.starts_at, lang))],
        "delayed": [gettext(N_("🕒 Update: the work has been postponed. New times below."))],
        "extended": [gettext(N_("🕒 Update: restoration will take longer than announced. New estimate below."))],
        "progress": [gettext(N_("🕒 Progress update."))],
    }[kind]
    return "\n".join([head, *lead, *note_line, *_body(outage, lang, gettext),
                      gettext(N_("We apologise for the inconvenience and thank you for your understanding."))])


def outage_answer(outages: Sequence[OutageNotice], lang: str | None, *, now: datetime,
                  translator: Translator | None = None) -> str:
    """The reply to "why is there no water?" from inside an outage area (R9: reason + apology; R8: no ticket)."""
    lang = _locale(lang)
    tr = translator or _default_translator()
    intro = tr.gettext(lang, N_("We know about this outage in your area; there is no need to report it. "
                                "Here is the notice:"))
    return "\n\n".join([intro, *(outage_text(o, lang, now=now, translator=tr) for o in outages)])


# --- lookups for the bot, the fault flow and the free-text flow -----------------------------------------------


async def _announced(session: AsyncSession, utility: Utility | None = None) -> list[OutageNotice]:
    q = select(OutageNotice).where(OutageNotice.status == OutageStatus.announced)
    if utility is not None:
        q = q.where(OutageNotice.utility == utility)
    return list((await session.execute(q.order_by(OutageNotice.starts_at, OutageNotice.id))).scalars())


def is_active(outage: OutageNotice, now: datetime) -> bool:
    """Under way now: announced, started, not restored, and not forgotten long past its estimate."""
    return (outage.status is OutageStatus.announced and outage.starts_at <= now
            and outage.restore_at + STALE_AFTER >= now)


async def active_outages_at(
    session: AsyncSession,
    *,
    now: datetime,
    district: str,
    street: str | None = None,
    building: str | None = None,
    utility: Utility | None = None,
) -> list[OutageNotice]:
    """Outages under way at a location (R8: a fault there is most likely this outage, not a new fault).
    A location known only to the district also matches notices for part of that district."""
    return [o for o in await _announced(session, utility)
            if is_active(o, now) and area_matches(o.area, district=district, street=street, building=building)]


@dataclass
class ResidentOutages:
    current: list[OutageNotice] = field(default_factory=list)
    upcoming: list[OutageNotice] = field(default_factory=list)
    addresses: int = 0  # linked accounts considered
    districts: list[str] = field(default_factory=list)  # subscribed districts


async def _resident_places(session: AsyncSession, resident_id: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    accounts = await session.execute(
        select(UtilityAccount.district, UtilityAccount.street, UtilityAccount.building)
        .join(AccountLink, AccountLink.account_id == UtilityAccount.id)
        .where(AccountLink.resident_id == resident_id, UtilityAccount.state != AccountState.dismantled)
    )
    subs = await subscriptions(session, resident_id)
    return [tuple(r) for r in accounts], subs


def _affects(outage: OutageNotice, places: Iterable[tuple[str, str, str]], districts: Iterable[str]) -> bool:
    if any(area_matches(outage.area, district=d, street=s, building=b) for d, s, b in places):
        return True
    touched = set(area_districts(outage.area))
    return any(d in touched for d in districts)


async def resident_outages(session: AsyncSession, *, resident_id: int, now: datetime,
                           utility: Utility | None = None) -> ResidentOutages:
    """Current and upcoming outages at the resident's linked addresses and subscribed districts."""
    places, districts = await _resident_places(session, resident_id)
    out = ResidentOutages(addresses=len(places), districts=districts)
    if not places and not districts:
        return out
    for o in await _announced(session, utility):
        if not _affects(o, places, districts):
            continue
        if is_active(o, now):
            out.current.append(o)
        elif o.starts_at > now:
            out.upcoming.append(o)
    return out


async def outage_for_resident(session: AsyncSession, *, resident_id: int, now: datetime,
                              utility: Utility | None = None) -> list[OutageNotice]:
    """Outages under way where the resident lives (linked accounts) or follows (subscribed districts):
    the answer to "为什么停水了" (R9)."""
    return (await resident_outages(session, resident_id=resident_id, now=now, utility=utility)).current


# --- district subscriptions -------------------------------------------------------------------------------------


async def subscriptions(session: AsyncSession, resident_id: int) -> list[str]:
    rows = await session.execute(
        select(DistrictSubscription.district).where(DistrictSubscription.resident_id == resident_id)
        .order_by(DistrictSubscription.district)
    )
    return [d for (d,) in rows]


async def toggle_subscription(session: AsyncSession, *, resident_id: int, district: str, now: datetime) -> bool:
    """Subscribe to a district's notices, or unsubscribe if already subscribed; returns the new state. Commits."""
    if district not in await known_districts(session):
        raise OutageError("Unknown district")
    existing = (await session.execute(
        select(DistrictSubscription).where(DistrictSubscription.resident_id == resident_id,
                                           DistrictSubscription.district == district)
    )).scalar_one_or_none()
    if existing is not None:
        await session.delete(existing)
        await session.commit()
        return False
    session.add(DistrictSubscription(resident_id=resident_id, district=district, created_at=now))
    try:
        await session.commit()
    except IntegrityError:  # a double tap subscribed already
        await session.rollback()
    return True


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

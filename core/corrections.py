"""R12 bill corrections (气费退补): suspicious readings are re-read, large corrections are approved in order.

* A monthly gas or water reading with usage **over 100 m³** is held for a re-read (power meters count kWh and
  are exempt): a task in the console with the account, the previous readings and the suspicious volume.
  Charges for that account and month wait in the task (``BillCorrection.held``) instead of reaching the ledger.
* The re-read confirms the reading (the held charges are posted as sent) or corrects it: the reading is
  changed and an adjustment carrying the corrected **volume** and the amount is added.
* A correction over **500 m³** needs the team lead, then the department manager; over **1,000 m³** also
  finance, then the deputy general manager. Each approval is a recorded step by a staff user holding that
  approval role, in that order; nothing reaches the ledger before the last one. Imported adjustments whose
  quantity is over 500 m³ go through the same steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import audit
from db.enums import ApprovalRole, CorrectionStatus, LedgerKind, Utility
from db.models import BillCorrection, BillCorrectionStep, LedgerEntry, MeterReading, StaffUser, UtilityAccount
from db.session import dialect_name

REREAD_OVER_MILLI = 100_000  # R12: a resident reading over 100 m³ in a month is re-read
TWO_STEPS_OVER_MILLI = 500_000  # R12: team lead + department manager
FOUR_STEPS_OVER_MILLI = 1_000_000  # R12: + finance + deputy general manager
MAX_NOTE = 1000
OPEN = (CorrectionStatus.reread, CorrectionStatus.approval)
ROLE_LABELS = {
    ApprovalRole.team_lead: "Team lead · 班组长",
    ApprovalRole.dept_manager: "Department manager · 部门经理",
    ApprovalRole.finance: "Finance · 财务",
    ApprovalRole.deputy_gm: "Deputy general manager · 分管副总",
}


class CorrectionError(ValueError):
    """A request the service refuses; the message is shown to staff as is (English · 中文)."""


def needs_reread(usage_milli: int) -> bool:
    """R12: more than 100 m³ in the month (exactly 100 m³ is billed normally)."""
    return usage_milli > REREAD_OVER_MILLI


def required_approvals(volume_milli: int) -> list[ApprovalRole]:
    """R12: the approval steps a correction of this volume needs, in order."""
    volume = abs(volume_milli)
    if volume > FOUR_STEPS_OVER_MILLI:
        return [ApprovalRole.team_lead, ApprovalRole.dept_manager, ApprovalRole.finance, ApprovalRole.deputy_gm]
    if volume > TWO_STEPS_OVER_MILLI:
        return [ApprovalRole.team_lead, ApprovalRole.dept_manager]
    return []


def period_of(day: date) -> str:
    return day.strftime("%Y-%m")


# --- the billing import's side: hold, don't post ---------------------------------------------------------


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, LedgerKind):
            v = v.value
        out[k] = v
    return out


def _ledger_row(held: dict[str, Any]) -> dict[str, Any]:
    row = dict(held)
    row["posted_at"] = datetime.fromisoformat(row["posted_at"])
    row["kind"] = LedgerKind(row["kind"])
    return row


async def _cubic_metre_accounts(session: AsyncSession, account_ids: set[int]) -> set[int]:
    """The accounts metered in m³ (gas, water): R12's volumes are cubic metres, never a power meter's kWh."""
    if not account_ids:
        return set()
    q = select(UtilityAccount.id).where(UtilityAccount.id.in_(account_ids),
                                        UtilityAccount.utility.in_((Utility.gas, Utility.water)))
    return set((await session.execute(q)).scalars())


async def hold_suspicious_readings(session: AsyncSession, readings: Sequence[dict[str, Any]], *,
                                   now: datetime) -> int:
    """Open a re-read task for every imported reading over 100 m³ that has none yet (R12). Returns how many."""
    suspicious = [r for r in readings if needs_reread(r["usage_milli"]) and r.get("external_id")]
    cubic = await _cubic_metre_accounts(session, {r["account_id"] for r in suspicious})
    suspicious = [r for r in suspicious if r["account_id"] in cubic]
    if not suspicious:
        return 0
    ids = dict((await session.execute(
        select(MeterReading.external_id, MeterReading.id)
        .where(MeterReading.external_id.in_([r["external_id"] for r in suspicious]))
    )).all())
    known = set((await session.execute(
        select(BillCorrection.reading_id).where(BillCorrection.reading_id.in_(list(ids.values())))
    )).scalars())
    opened = 0
    for r in suspicious:
        reading_id = ids.get(r["external_id"])
        if reading_id is None or reading_id in known:
            continue
        session.add(BillCorrection(
            account_id=r["account_id"], reading_id=reading_id, period=period_of(r["read_on"]),
            status=CorrectionStatus.reread, suspicious_usage_milli=r["usage_milli"], held=[], required=[],
            created_at=now))
        opened += 1
    if opened:
        await session.flush()
    return opened


async def divert_ledger_rows(session: AsyncSession, rows: list[dict[str, Any]], *, now: datetime
                             ) -> tuple[list[dict[str, Any]], int]:
    """Split new ledger rows into those to post now and those R12 holds; returns (to_post, held_count).

    Held: charges for an account and month with an open re-read, and adjustments whose quantity is over
    500 m³ (they wait for their approval steps).
    """
    if not rows:
        return rows, 0
    open_holds = {
        (c.account_id, c.period): c for c in (await session.execute(
            select(BillCorrection).where(BillCorrection.status.in_(OPEN),
                                         BillCorrection.reading_id.is_not(None)))).scalars()
    }  # a month stays held through the re-read and the approvals that follow it
    pending_adjustments = {}
    big_rows = [r for r in rows
                if r["kind"] is LedgerKind.adjustment and required_approvals(r.get("quantity_milli") or 0)]
    cubic = await _cubic_metre_accounts(session, {r["account_id"] for r in big_rows})
    big = {r["external_id"] for r in big_rows if r["account_id"] in cubic}
    if big:
        pending_adjustments = {c.external_id: c for c in (await session.execute(
            select(BillCorrection).where(BillCorrection.external_id.in_(big)))).scalars()}
    post, held = [], 0
    for row in rows:
        hold = open_holds.get((row["account_id"], row.get("period"))) if row["kind"] is LedgerKind.charge else None
        if hold is not None:
            kept = [h for h in hold.held if h.get("external_id") != row["external_id"]]
            hold.held = [*kept, _jsonable(row)]
            held += 1
            continue
        steps = required_approvals(row.get("quantity_milli") or 0) if row["external_id"] in big else []
        if steps:
            corr = pending_adjustments.get(row["external_id"])
            if corr is None:
                corr = BillCorrection(account_id=row["account_id"], status=CorrectionStatus.approval,
                                      period=row.get("period"), external_id=row["external_id"],
                                      created_at=now, held=[], required=[s.value for s in steps])
                session.add(corr)
                pending_adjustments[row["external_id"]] = corr
            if corr.status is CorrectionStatus.posted:  # already in the ledger: the import updates it
                post.append(row)
                continue
            new = _jsonable(row)
            if corr.id is not None and corr.held and corr.held[0] != new:
                # The billing system changed a pending correction: earlier approvals were for other figures.
                await session.execute(delete(BillCorrectionStep).where(BillCorrectionStep.correction_id == corr.id))
            corr.held = [new]
            corr.volume_milli = row["quantity_milli"]
            corr.amount_fen = row["amount_fen"]
            corr.required = [s.value for s in steps]
            held += 1
            continue
        post.append(row)
    await session.flush()
    return post, held


# --- the console's side: re-read, approve, post ----------------------------------------------------------


async def _locked(session: AsyncSession, correction_id: int) -> BillCorrection:
    q = (select(BillCorrection).where(BillCorrection.id == correction_id)
         .options(selectinload(BillCorrection.steps)).execution_options(populate_existing=True))
    if dialect_name(session) == "postgresql":
        q = q.with_for_update(of=BillCorrection)
    corr = (await session.execute(q)).scalar_one_or_none()
    if corr is None:
        raise CorrectionError("No such correction · 该退补任务不存在")
    return corr


def _held_charge_basis(corr: BillCorrection) -> tuple[int, int]:
    """(charged fen as a positive number, billed volume in milli) of the held charges."""
    charged = sum(-h["amount_fen"] for h in corr.held if h["kind"] == LedgerKind.charge.value)
    volume = sum(h.get("quantity_milli") or 0 for h in corr.held if h["kind"] == LedgerKind.charge.value)
    return charged, volume or (corr.suspicious_usage_milli or 0)


async def _post(session: AsyncSession, corr: BillCorrection, *, now: datetime, staff_id: int | None) -> None:
    """Everything the correction held reaches the ledger now, with the corrected reading and adjustment."""
    rows = [_ledger_row(h) for h in corr.held]
    if corr.reading_id is not None and corr.corrected_usage_milli is not None:
        reading = await session.get(MeterReading, corr.reading_id)
        if reading is not None and reading.usage_milli != corr.corrected_usage_milli:
            delta = corr.corrected_usage_milli - reading.usage_milli
            reading.usage_milli = corr.corrected_usage_milli
            reading.value_milli += delta
        if corr.volume_milli and corr.amount_fen:
            rows.append({
                "account_id": corr.account_id, "kind": LedgerKind.adjustment, "amount_fen": corr.amount_fen,
                "posted_at": now, "period": corr.period, "quantity_milli": corr.volume_milli,
                "description": f"R12 re-read correction · 复抄退补 #{corr.id}", "source": "staff",
                "external_id": None, "telegram_charge_id": None,
            })
    for row in rows:
        row.setdefault("source", "billing")
        row.setdefault("telegram_charge_id", None)
    if rows:
        await session.execute(insert(LedgerEntry.__table__), rows)
    corr.status = CorrectionStatus.posted
    corr.posted_at = now
    audit.record(session, at=now, staff_id=staff_id, action="correction.post", target_type="correction",
                 target_id=corr.id, entries=len(rows))


def _parse_volume(text: str | None) -> int:
    raw = (text or "").strip().replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        raise CorrectionError("Enter the re-read volume in m³, e.g. 42.5 · 请填写复抄用量（立方米）") from None
    if not 0 <= value < 1_000_000:
        raise CorrectionError("The volume must be between 0 and 999,999 m³ · 用量须在 0–999,999 立方米之间")
    return round(value * 1000)


def _parse_amount(text: str | None) -> int | None:
    raw = (text or "").strip().replace(",", "").replace("¥", "")
    if not raw:
        return None
    try:
        fen = round(float(raw) * 100)
    except (ValueError, OverflowError):  # "abc", "nan", "inf"
        raise CorrectionError("The amount must be in yuan, e.g. -120.50 · 金额须以元填写") from None
    if abs(fen) > 100_000_000:
        raise CorrectionError("The amount is implausibly large · 金额过大")
    return fen


async def record_reread(session: AsyncSession, *, correction_id: int, staff: StaffUser, volume: str,
                        amount: str | None = None, note: str | None = None, now: datetime) -> BillCorrection:
    """The re-read's result (R12). Same volume: the held charges are posted. Another volume: the reading
    is corrected with an adjustment (corrected volume and amount), after the approvals it needs. Commits."""
    corrected = _parse_volume(volume)
    amount_fen = _parse_amount(amount)
    note = (note or "").strip()[:MAX_NOTE] or None
    corr = await _locked(session, correction_id)
    if corr.status is not CorrectionStatus.reread:
        raise CorrectionError("This reading was already re-read · 该读数已复抄")
    diff = (corr.suspicious_usage_milli or 0) - corrected  # positive: the resident was overcharged
    if diff and amount_fen is None:
        charged, basis = _held_charge_basis(corr)
        if not charged or not basis:
            raise CorrectionError("No charge is held for this month: enter the adjustment amount · "
                                  "本月费用未到，请填写退补金额")
        amount_fen = round(charged * diff / basis)  # the held charge's own unit price
    # Every check is done: nothing below refuses, so a refusal never leaves a half-changed task.
    corr.corrected_usage_milli = corrected
    corr.reread_by_id = staff.id
    corr.reread_at = now
    corr.note = note
    corr.volume_milli = abs(diff)
    corr.amount_fen = amount_fen if diff else 0
    corr.required = [r.value for r in required_approvals(diff)]
    audit.record(session, at=now, staff_id=staff.id, action="correction.reread", target_type="correction",
                 target_id=corr.id, suspicious_milli=corr.suspicious_usage_milli, corrected_milli=corrected)
    if corr.required:
        corr.status = CorrectionStatus.approval
    else:
        await _post(session, corr, now=now, staff_id=staff.id)
    await session.commit()
    return corr


def next_step(corr: BillCorrection) -> ApprovalRole | None:
    if corr.status is not CorrectionStatus.approval or len(corr.steps) >= len(corr.required):
        return None
    return ApprovalRole(corr.required[len(corr.steps)])


async def approve(session: AsyncSession, *, correction_id: int, staff: StaffUser, note: str | None = None,
                  now: datetime) -> BillCorrection:
    """Record one approval step (R12): only by a user holding the next role in the order. The last step posts
    the correction to the ledger. Commits."""
    corr = await _locked(session, correction_id)
    if corr.status is not CorrectionStatus.approval:
        raise CorrectionError("This correction is not waiting for approval · 该退补不在审批中")
    wanted = next_step(corr)
    if wanted is None:
        raise CorrectionError("Every approval is already recorded · 审批已完成")
    mine = staff.approval_role
    if staff.id is None or mine is None or mine.value not in corr.required:
        raise CorrectionError(f"R12: this step needs the {ROLE_LABELS[wanted]}; your account holds no such "
                              f"approval role · 本步须由{ROLE_LABELS[wanted]}审批")
    if mine is not wanted:
        done = {s.role for s in corr.steps}
        if mine in done:
            raise CorrectionError(f"R12: the {ROLE_LABELS[mine]} step is already recorded · 该步已审批")
        raise CorrectionError(f"R12: approvals go in order; waiting for the {ROLE_LABELS[wanted]} first · "
                              f"须按顺序审批，请先由{ROLE_LABELS[wanted]}审批")
    step = BillCorrectionStep(correction_id=corr.id, role=wanted, staff_id=staff.id, at=now,
                              note=(note or "").strip()[:MAX_NOTE] or None)
    corr.steps.append(step)
    audit.record(session, at=now, staff_id=staff.id, action="correction.approve", target_type="correction",
                 target_id=corr.id, role=wanted.value)
    if len(corr.steps) == len(corr.required):
        await _post(session, corr, now=now, staff_id=staff.id)
    await session.commit()
    return corr


async def set_approval_role(session: AsyncSession, *, username: str, role: str | None, now: datetime,
                            staff_id: int | None = None) -> StaffUser:
    """Give a staff user an R12 approval role (or take it away with None / "none"); audited. Commits."""
    user = (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
    if user is None:
        raise CorrectionError(f"No staff user {username!r}")
    new = None if role in (None, "", "none") else ApprovalRole(role)
    audit.record(session, at=now, staff_id=staff_id, action="staff.approval_role", target_type="staff",
                 target_id=user.id, role=new.value if new else None)
    user.approval_role = new
    await session.commit()
    return user


# --- reading -------------------------------------------------------------------------------------------


async def open_corrections(session: AsyncSession, *, limit: int = 200) -> list[tuple[BillCorrection, str]]:
    """Open tasks, oldest first, with the account number."""
    q = (select(BillCorrection, UtilityAccount.number).join(UtilityAccount)
         .where(BillCorrection.status.in_(OPEN)).options(selectinload(BillCorrection.steps))
         .order_by(BillCorrection.created_at, BillCorrection.id).limit(limit))
    return [(c, n) for c, n in (await session.execute(q)).all()]


async def count_open(session: AsyncSession) -> int:
    q = select(func.count()).select_from(BillCorrection).where(BillCorrection.status.in_(OPEN))
    return int((await session.execute(q)).scalar_one())


@dataclass
class CorrectionView:
    correction: BillCorrection
    account: UtilityAccount | None
    readings: list[MeterReading]  # the last readings, newest first (the held one included)
    next_role: ApprovalRole | None
    staff_names: dict[int, str]


async def view(session: AsyncSession, correction_id: int) -> CorrectionView | None:
    q = (select(BillCorrection).where(BillCorrection.id == correction_id)
         .options(selectinload(BillCorrection.steps)))
    corr = (await session.execute(q)).scalar_one_or_none()
    if corr is None:
        return None
    account = await session.get(UtilityAccount, corr.account_id)
    readings = list((await session.execute(
        select(MeterReading).where(MeterReading.account_id == corr.account_id)
        .order_by(MeterReading.read_on.desc(), MeterReading.id.desc()).limit(13))).scalars())
    ids = {s.staff_id for s in corr.steps} | ({corr.reread_by_id} if corr.reread_by_id else set())
    names = dict((await session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids)))).all()) if ids else {}
    return CorrectionView(corr, account, readings, next_step(corr), names)

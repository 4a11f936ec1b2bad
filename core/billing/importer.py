"""Entry points: upsert a batch (REST API), import a CSV file (CLI and console), the recent imports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.billing.batch import validate_batch, write_batch
from core.billing.records import LEDGER_KINDS, ImportReport, Record, RecordError, parse_record, read_csv
from db.models import AuditLog

# --- entry points --------------------------------------------------------------------------------------------


async def upsert(
    session: AsyncSession,
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    now: datetime,
    source: str = "billing",
    dry_run: bool = False,
    staff_id: int | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Validate every (line, row) and, if all are valid and not ``dry_run``, write them in one transaction."""
    report = ImportReport(rows=len(rows))
    records: list[Record] = []
    for line, row in rows:
        try:
            records.append(parse_record(line, row, now=now))
        except RecordError as e:
            report.add_error(line, str(e))
    plan = await validate_batch(session, records, report)
    if not report.ok:  # only SELECTs ran: nothing to undo
        return report
    if dry_run:
        report.created = {"account": sum(1 for a in plan.accounts if a.line not in plan.account_update),
                          "reading": sum(1 for r in plan.readings if r.line not in plan.reading_update)}
        report.updated = {"account": len(plan.account_update), "reading": len(plan.reading_update)}
        for kind, lk in LEDGER_KINDS.items():
            recs = [r for r in plan.ledger if r.kind is lk]
            report.created[kind] = sum(1 for r in recs if r.line not in plan.ledger_update)
            report.updated[kind] = sum(1 for r in recs if r.line in plan.ledger_update)
        return report
    try:
        await write_batch(session, plan, report, now=now, source=source, staff_id=staff_id)
        audit.record(session, at=now, staff_id=staff_id, action="billing.import", target_type="billing",
                     target_id=source, rows=report.rows, created=report.created, updated=report.updated,
                     actor=actor)
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    report.applied = True
    return report


async def import_csv(
    session: AsyncSession,
    data: bytes | str,
    *,
    now: datetime,
    dry_run: bool = False,
    staff_id: int | None = None,
    actor: str | None = None,
) -> ImportReport:
    """`onestop import FILE.csv` and the console upload: all rows or nothing."""
    rows, errors = read_csv(data)
    if errors:
        report = ImportReport(rows=len(rows))
        for e in errors:
            report.add_error(e.line, e.message)
        return report
    return await upsert(session, rows, now=now, source="import", dry_run=dry_run, staff_id=staff_id, actor=actor)


async def recent_imports(session: AsyncSession, limit: int = 10) -> list[Any]:
    """The last imports (from the audit log) for the console page."""
    q = select(AuditLog).where(AuditLog.action == "billing.import").order_by(AuditLog.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())

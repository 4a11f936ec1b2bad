"""The audit log, for admins: newest entries first with the staff member's name, and the actions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog, StaffUser

# -- the audit log, for admins ---------------------------------------------------------------------------------------

async def audit_entries(session: AsyncSession, *, action: str | None = None, staff_id: int | None = None,
                        before_id: int | None = None, limit: int = 100) -> list[tuple[AuditLog, str | None]]:
    """Newest first, with the staff member's display name; ``action`` matches a prefix ("chat." = all chat)."""
    q = select(AuditLog, StaffUser.display_name).outerjoin(StaffUser, StaffUser.id == AuditLog.staff_id)
    if action:
        q = q.where(AuditLog.action.startswith(action, autoescape=True))
    if staff_id is not None:
        q = q.where(AuditLog.staff_id == staff_id)
    if before_id is not None:
        q = q.where(AuditLog.id < before_id)
    rows = await session.execute(q.order_by(AuditLog.id.desc()).limit(max(1, min(limit, 500))))
    return [(a, name) for a, name in rows]


async def audit_actions(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(AuditLog.action).distinct().order_by(AuditLog.action))).scalars())

"""Audit log of staff actions (issue 6): who claimed, replied, changed, overrode, exported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog


def record(
    session: AsyncSession,
    *,
    at: datetime,
    staff_id: int | None,
    action: str,
    target_type: str | None = None,
    target_id: object = None,
    **detail: Any,
) -> None:
    """Add an audit row to the caller's transaction (never personal data in ``detail``)."""
    session.add(
        AuditLog(
            at=at,
            staff_id=staff_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail,
        )
    )

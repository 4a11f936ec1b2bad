"""The audit log of staff actions (claims, replies, overrides, status changes, exports): admins only."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AdminDep, SessionDep
from api.templating import render
from core import handoff, reports

router = APIRouter(include_in_schema=False)

PAGE = 100


@router.get("/console/audit")
async def audit_page(request: Request, user: AdminDep, session: SessionDep, action: str = "", staff: str = "",
                     before: int | None = None):
    staff_id = int(staff) if staff.isdigit() else None
    rows = await reports.audit_entries(session, action=action.strip()[:48] or None, staff_id=staff_id,
                                       before_id=before, limit=PAGE)
    older = rows[-1][0].id if len(rows) == PAGE else None
    return render(request, "console/audit.html", rows=rows, action=action, staff=staff, older=older,
                  actions=await reports.audit_actions(session), people=await handoff.active_staff(session))

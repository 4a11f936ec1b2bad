"""Jinja2 templates for the console, with the helpers every page needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from core import ignition
from core.clock import local
from db.enums import ROLE_RANK, StaffRole

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _fmt_dt(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local(value).strftime(fmt) if value else ""


def _mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def _fen(value: int | None) -> str:
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value) / 100:,.2f}"


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["mask_phone"] = _mask_phone
templates.env.filters["fen"] = _fen


def can(user: Any, role: str) -> bool:
    return user is not None and ROLE_RANK[user.role] >= ROLE_RANK[StaffRole(role)]


templates.env.globals["can"] = can

# The console navigation: (path, label, least role). Features add their page here.
NAV = [
    {"href": "/console/queue", "label": "Queue 接入队列", "role": "agent"},
    {"href": "/console/tickets", "label": "Tickets 工单", "role": "agent"},
    {"href": "/console/appointments", "label": "Appointments 预约", "role": "agent"},
    {"href": "/console/outages", "label": "Outages 停供公告", "role": "operator"},
    {"href": "/console/billing", "label": "Billing 账务导入", "role": "operator"},
    {"href": "/console/corrections", "label": "Corrections 退补", "role": "agent"},
    {"href": "/console/reconnection", "label": "Reconnection 复气", "role": "operator"},
    {"href": "/console/proxy", "label": "Proxy 代办", "role": "agent"},
    {"href": "/console/reports", "label": "Reports 报表", "role": "supervisor"},
    {"href": "/console/approvals", "label": "Approvals 审批", "role": "supervisor"},
    {"href": "/console/knowledge", "label": "Knowledge 知识库", "role": "agent"},
    {"href": "/console/audit", "label": "Audit 审计", "role": "admin"},
    {"href": "/console/admin/staff", "label": "Staff 人员", "role": "admin"},  # issue 12 F5
]
templates.env.globals["nav_items"] = NAV
# R19: the technician's ignition checklist on the appointment cards.
templates.env.globals["ignition_items"] = [(i.value, label) for i, label in ignition.CONSOLE_LABELS.items()]


def render(request: Request, name: str, /, status_code: int = 200, **context: Any):
    """Render a console page; adds the CSRF token and the current user."""
    sess = getattr(request.state, "session", None)
    csrf = request.app.state.sessions.csrf_token(sess) if sess else ""
    context.setdefault("user", getattr(request.state, "staff", None))
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf, "calendar_warnings": request.app.state.calendar_warnings, **context},
        status_code=status_code,
    )

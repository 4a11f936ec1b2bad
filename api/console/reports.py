"""Reports for supervisors: on-time rate, R4 satisfaction, volumes, deflection, top unanswered questions;
charts as inline SVG, every table exportable as CSV (exports are audited)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from api.console import svg
from api.deps import CtxDep, SessionDep, SupervisorDep
from api.templating import N_, gettext_for, render
from core import audit, reports, targets
from core.csv_export import to_csv

router = APIRouter(include_in_schema=False)

SECTIONS = ("on_time", "satisfaction_agent", "satisfaction_category", "satisfaction_time", "volumes", "deflection",
            "unanswered")


@router.get("/console/reports")
async def reports_page(request: Request, user: SupervisorDep, ctx: CtxDep, session: SessionDep,
                       start: str | None = None, end: str | None = None):
    now = ctx.clock.now()
    period = reports.Period.parse(start, end, now)
    r = await reports.build(session, period=period, now=now)
    _ = gettext_for(request)
    no_data = _("no data")
    charts = {
        "on_time": svg.line([(b, v) for b, v, _n in r.on_time.series], unit="%", y_max=100,
                            title=_("On-time rate over time")),
        "on_time_kind": svg.bars([(row.label, row.rate) for row in r.on_time.by_kind], unit="%", max_value=100,
                                 title=_("On-time rate by kind"), no_data=no_data),
        "sat_time": svg.line([(b, v) for b, v, _n in r.satisfaction.series], y_min=1, y_max=10,
                             title=_("Satisfaction over time")),
        "sat_agent": svg.bars([(row.label, row.score) for row in r.satisfaction.by_agent], max_value=10,
                              title=_("Satisfaction by agent"), no_data=no_data),
        "sat_category": svg.bars([(row.label, row.score) for row in r.satisfaction.by_category], max_value=10,
                                 title=_("Satisfaction by category"), no_data=no_data),
        "volume_kind": svg.bars(list(r.volumes.by_kind.items()), title=_("Tickets by kind"), no_data=no_data),
        "volume_utility": svg.bars(list(r.volumes.by_utility.items()), title=_("Tickets by utility"),
                                   no_data=no_data),
        "volume_time": svg.line(r.volumes.series, title=_("Tickets over time")),
        "deflection": svg.line([(b, v) for b, v, _n in r.deflection.series], unit="%", y_max=100,
                               title=_("Answered by the bot alone")),
    }
    kinds = sorted({k for k, _u in r.volumes.matrix})
    utilities = sorted({u for _k, u in r.volumes.matrix})
    return render(request, "console/reports.html", r=r, charts=charts, kinds=kinds, utilities=utilities,
                  sections=SECTIONS, targets=await targets.measure(session, period=period, now=now))


def _rows(r: reports.Report, section: str) -> tuple[list[str], list[list[object]]]:
    rows: list[list[object]]  # a CSV row mixes labels, counts and rates
    if section == "on_time":
        head = ["kind", "due", "on_time", "late_done", "overdue_open", "on_time_rate_percent"]
        rows = [[x.label, x.due, x.on_time, x.late_done, x.overdue_open, x.rate]
                for x in [r.on_time.total, *r.on_time.by_kind]]
    elif section in ("satisfaction_agent", "satisfaction_category"):
        head = ["agent" if section.endswith("agent") else "category", "sent", "answered", "attitude_mean",
                "ability_mean", "score_r4", "percent", "low_scores"]
        src = r.satisfaction.by_agent if section.endswith("agent") else r.satisfaction.by_category
        rows = [[x.label, x.sent, x.answered, x.attitude, x.ability, x.score, x.percent, x.low]
                for x in [r.satisfaction.total, *src]]
    elif section == "satisfaction_time":
        head = ["period_start", "score_r4", "answered"]
        rows = [[b.isoformat(), v, n] for b, v, n in r.satisfaction.series]
    elif section == "volumes":
        head = ["kind", "utility", "tickets"]
        rows = [[k, u, n] for (k, u), n in sorted(r.volumes.matrix.items())]
        rows += [["(chats)", "", r.volumes.conversations], ["(visit requests)", "", r.volumes.appointments]]
    elif section == "deflection":
        head = ["outcome", "questions"]
        rows = [[k, v] for k, v in sorted(r.deflection.by_outcome.items())]
        rows.append(["answered_by_bot_alone_percent", r.deflection.rate])
    else:
        head = ["question", "times", "last_asked", "outcome"]
        rows = [[u.text, u.count, u.last_at.isoformat(), u.outcome] for u in r.unanswered]
    return head, rows


@router.get("/console/reports/export.csv")
async def export_csv(request: Request, user: SupervisorDep, ctx: CtxDep, session: SessionDep, section: str,
                     start: str | None = None, end: str | None = None):
    if section not in SECTIONS:
        raise HTTPException(404, N_("unknown report section"))
    now = ctx.clock.now()
    period = reports.Period.parse(start, end, now)
    r = await reports.build(session, period=period, now=now)
    head, rows = _rows(r, section)
    body = to_csv(head, rows)  # F9: formula cells neutralised
    audit.record(session, at=now, staff_id=user.id, action="report.export", target_type="report", target_id=section,
                 start=period.start.isoformat(), end=period.end.isoformat(), rows=len(rows))
    await session.commit()
    name = f"onestop-{section}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

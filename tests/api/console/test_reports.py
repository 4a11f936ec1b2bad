"""Reports computed from real records, CSV export, the knowledge view and review, and the audit log."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from core import reports
from db.enums import Priority, QuestionOutcome, StaffRole, TicketKind, TicketStatus, Utility
from db.models import AuditLog, QuestionLog, Survey, Ticket, TopicSuggestion
from tests.support.console import add_resident, token_of


def _t(ctx, n, *, kind=TicketKind.fault, utility=Utility.gas, deadline_days=-1, done_days=None, status=None):
    now = ctx.clock.now()
    deadline = now + timedelta(days=deadline_days)
    done = None if done_days is None else now + timedelta(days=done_days)
    return Ticket(number=f"T-{n}", kind=kind, status=status or (TicketStatus.resolved if done else
                                                               TicketStatus.in_progress),
                  priority=Priority.normal, utility=utility, subject=f"s{n}", description="", attachments=[],
                  language="zh_Hans", deadline_at=deadline, resolved_at=done, created_at=now - timedelta(days=3),
                  updated_at=now)


@pytest.fixture
async def seeded(ctx, staff_users):
    """4 due tickets: 2 on time, 1 late, 1 still open (50 %); surveys for two agents; 5 logged questions."""
    await add_resident(ctx)
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        s.add_all([
            _t(ctx, 1, deadline_days=-2, done_days=-3),  # on time
            _t(ctx, 2, deadline_days=-1, done_days=-1.5, kind=TicketKind.complaint, utility=Utility.water),
            _t(ctx, 3, deadline_days=-2, done_days=-1),  # late
            _t(ctx, 4, deadline_days=-1),  # overdue, open
            _t(ctx, 5, deadline_days=+3),  # not due yet: not counted
            _t(ctx, 6, deadline_days=-1, status=TicketStatus.cancelled),  # withdrawn: not counted
        ])
        agent, sup = staff_users[StaffRole.agent], staff_users[StaffRole.supervisor]
        for staff_id, att, abl, cat in ((agent, 10, 8, "chat"), (agent, 6, 6, "chat"), (sup, 9, 9, "complaint")):
            s.add(Survey(resident_id=10001, staff_id=staff_id, category=cat, attitude=att, ability=abl,
                         sent_at=now - timedelta(days=1), answered_at=now - timedelta(hours=20)))
        s.add(Survey(resident_id=10001, staff_id=agent, category="chat", sent_at=now - timedelta(days=1)))
        questions = (
            ("燃气怎么过户", QuestionOutcome.answered),
            ("电动车充电桩怎么装", QuestionOutcome.no_match),
            ("电动车 充电桩怎么装？", QuestionOutcome.no_match),
            ("=cmd|calc", QuestionOutcome.ambiguous),
            ("水费", QuestionOutcome.chose),
        )
        for text, outcome in questions:
            s.add(QuestionLog(resident_id=10001, text=text, language="zh_Hans", outcome=outcome, score=0.0,
                              alternatives=[], created_at=now - timedelta(hours=2)))
        await s.commit()


async def test_report_figures_from_records(ctx, seeded, staff_users) -> None:
    async with ctx.sessionmaker() as s:
        r = await reports.build(s, period=reports.Period.last_days(ctx.clock.now()), now=ctx.clock.now())
    assert (r.on_time.total.due, r.on_time.total.on_time, r.on_time.total.late_done,
            r.on_time.total.overdue_open) == (4, 2, 1, 1)
    assert r.on_time.total.rate == 50.0
    assert {row.label: row.rate for row in r.on_time.by_kind} == {"fault": pytest.approx(100 / 3, 0.01),
                                                                  "complaint": 100.0}
    total = r.satisfaction.total
    assert (total.sent, total.answered) == (4, 3)
    assert total.attitude == pytest.approx((10 + 6 + 9) / 3, 0.01) and total.ability == pytest.approx(23 / 3, 0.01)
    assert total.score == pytest.approx(((25 / 3) + (23 / 3)) / 2, 0.01) and total.low == 1
    by_agent = {row.label: row.score for row in r.satisfaction.by_agent}
    assert by_agent == {"agent user": 7.5, "supervisor user": 9.0}
    assert {row.label for row in r.satisfaction.by_category} == {"chat", "complaint"}
    assert r.volumes.by_kind == {"fault": 5, "complaint": 1}
    assert r.volumes.matrix[("complaint", "water")] == 1
    assert r.deflection.questions == 5 and r.deflection.answered_alone == 2 and r.deflection.rate == 40.0
    top = r.unanswered[0]
    assert top.count == 2 and "充电桩" in top.text, "spellings of one question are grouped"


async def test_reports_page_and_csv_export(ctx, seeded, make_client, staff_users) -> None:
    agent = await make_client("agent")
    assert (await agent.get("/console/reports")).status_code == 403
    assert (await agent.get("/console/reports/export.csv", params={"section": "on_time"})).status_code == 403
    sup = await make_client("supervisor")
    page = await sup.get("/console/reports")
    assert page.status_code == 200
    assert "50.0%" in page.text and "<svg" in page.text and "充电桩" in page.text
    assert "agent user" in page.text and "7.5" in page.text
    r = await sup.get("/console/reports/export.csv", params={"section": "satisfaction_agent"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][0] == "agent" and ["agent user", "3", "2", "8.0", "7.0", "7.5", "75.0", "1"] in rows
    r = await sup.get("/console/reports/export.csv", params={"section": "unanswered"})
    assert "'=cmd|calc" in r.text, "formula-like cells are neutralised"
    async with ctx.sessionmaker() as s:
        exports = (await s.execute(select(AuditLog).where(AuditLog.action == "report.export"))).scalars().all()
    assert [e.target_id for e in exports] == ["satisfaction_agent", "unanswered"]
    assert (await sup.get("/console/reports/export.csv", params={"section": "x"})).status_code == 404
    odd = await sup.get("/console/reports", params={"start": "garbage", "end": "2026-13-45"})
    assert odd.status_code == 200


async def test_knowledge_view_and_review(ctx, seeded, make_client, staff_users, tmp_path) -> None:
    kdir = tmp_path / "knowledge"
    shutil.copytree(ctx.settings.knowledge_dir, kdir)
    ctx.settings.knowledge_dir = kdir
    ctx.__dict__.pop("catalogue", None)
    agent = await make_client("agent")
    page = await agent.get("/console/knowledge")
    assert page.status_code == 200 and "gas.transfer" in page.text and "充电桩" in page.text
    topic = await agent.get("/console/knowledge/gas.transfer")
    assert topic.status_code == 200 and "<b>所需材料</b>" in topic.text and "新业主有效身份证原件" in topic.text
    assert (await agent.get("/console/knowledge/nope.nope")).status_code == 404

    async with ctx.sessionmaker() as s:
        qid = (await s.execute(select(QuestionLog.id).where(QuestionLog.text == "电动车充电桩怎么装"))).scalar_one()
    token = await token_of(agent)
    r = await agent.post("/console/knowledge/suggest", data={"csrf_token": token, "question_log_id": qid,
                                                             "topic": "power.new-connection"})
    assert r.status_code == 303
    r = await agent.post("/console/knowledge/suggest", data={"csrf_token": token, "question_log_id": qid,
                                                             "topic": "not.a-topic"})
    assert r.status_code == 422
    async with ctx.sessionmaker() as s:
        [sug] = (await s.execute(select(TopicSuggestion))).scalars().all()
        assert (await s.get(QuestionLog, qid)).suggested_topic == "power.new-connection"
    assert sug.status == "pending"
    r = await agent.post(f"/console/knowledge/suggestions/{sug.id}/apply", data={"csrf_token": token})
    assert r.status_code == 403, "applying to the topic file is a supervisor's decision"

    sup = await make_client("supervisor")
    r = await sup.post(f"/console/knowledge/suggestions/{sug.id}/apply", data={"csrf_token": await token_of(sup)})
    assert r.status_code == 303
    data = yaml.safe_load((kdir / "topics" / "power.new-connection.yaml").read_text(encoding="utf-8"))
    assert "电动车充电桩怎么装" in data["questions"]["zh"]
    assert ctx.matcher.match("电动车充电桩怎么装", "zh_Hans").topic == "power.new-connection"
    r = await sup.post(f"/console/knowledge/suggestions/{sug.id}/apply", data={"csrf_token": await token_of(sup)})
    assert r.status_code == 409
    async with ctx.sessionmaker() as s:
        assert (await s.get(TopicSuggestion, sug.id)).status == "applied"
        actions = (await s.execute(select(AuditLog.action).where(AuditLog.action.startswith("knowledge.")))).all()
    assert sorted(a for (a,) in actions) == ["knowledge.apply", "knowledge.suggest"]


async def test_audit_log_is_for_admins(ctx, seeded, make_client, staff_users) -> None:
    sup = await make_client("supervisor")
    await sup.get("/console/reports/export.csv", params={"section": "volumes"})
    assert (await sup.get("/console/audit")).status_code == 403
    admin = await make_client("admin")
    page = await admin.get("/console/audit")
    assert page.status_code == 200 and "report.export" in page.text and "supervisor user" in page.text
    filtered = await admin.get("/console/audit", params={"action": "login"})
    table = filtered.text.split('<table id="audit">')[1]
    assert "report.export" not in table and "login" in table

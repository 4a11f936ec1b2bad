"""The demo's believable past (issue 15): after demo-data the console shows a utility at work — every chart on
the reports page has data and every R18 target has a measured value; deterministic and idempotent."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core import staff
from core.demo import load_demo
from core.demo_past import DEMO_NOTE, load_past
from db.models import (
    AuditLog,
    BillCorrection,
    Conversation,
    OutageNotice,
    QuestionLog,
    StaffUser,
    Survey,
    Ticket,
    TicketEvent,
)
from tests.api.conftest import PASSWORD
from tests.conftest import make_ctx, make_settings

TABLES = (Ticket, TicketEvent, Survey, Conversation, QuestionLog, OutageNotice, BillCorrection)


async def _counts(ctx) -> dict[str, int]:
    async with ctx.sessionmaker() as s:
        return {m.__tablename__: (await s.execute(select(func.count()).select_from(m))).scalar_one() for m in TABLES}


async def _load(ctx):
    async with ctx.sessionmaker() as s:
        await load_demo(s, now=ctx.clock.now())
        return await load_past(s, ctx=ctx)


async def test_demo_past_fills_every_chart_and_every_r18_target(ctx, make_client) -> None:
    result = await _load(ctx)
    assert result.created and {"fault", "complaint", "callback", "inquiry", "late", "reopened", "r7_callback",
                               "survey", "chat", "question", "visit"} <= set(result.counts)
    async with ctx.sessionmaker() as s:
        sup = (await s.execute(select(StaffUser).where(StaffUser.username == "demo-supervisor"))).scalar_one()
        sup.password_hash = staff.hash_password(PASSWORD)
        await s.commit()
    c = await make_client("demo-supervisor")
    page = (await c.get("/console/reports")).text
    charts = re.findall(r'<svg viewBox[^>]*aria-label="([^"]*)">(.*?)</svg>', page, re.S)
    assert len(charts) >= 9
    for title, body in charts:
        assert "<rect" in body or "<circle" in body, f"chart without data: {title}"
        assert "no data" not in body, title
    rows = re.findall(r'<tr id="target-(\w+)" class="(\w+)">', page)
    assert len(rows) == 7 and all(cls in ("met", "missed") for _, cls in rows), rows  # every target measured
    # The other first looks: the home page, the queue, the desk, outages and the R12 task list.
    for path, expect in (("/", None), ("/console/queue", None), ("/console/tickets", "-D0"),
                         ("/console/outages", "TG-"), ("/console/corrections", "168.400")):
        r = await c.get(path)
        assert r.status_code == 200, path
        if expect:
            assert expect in r.text, path
    async with ctx.sessionmaker() as s:
        queued = (await s.execute(select(func.count()).select_from(Conversation)
                                  .where(Conversation.status == "queued"))).scalar_one()
        open_tickets = (await s.execute(select(func.count()).select_from(Ticket)
                                        .where(Ticket.status.in_(("new", "in_progress"))))).scalar_one()
        marked = (await s.execute(select(func.count()).select_from(Ticket)
                                  .where(Ticket.description != DEMO_NOTE))).scalar_one()
        outages = sorted(o.status.value for o in (await s.execute(select(OutageNotice))).scalars())
    assert queued == 2 and open_tickets > 0 and marked == 0 and outages == ["announced", "restored"]


async def test_demo_past_is_idempotent_and_deterministic(ctx, tmp_path) -> None:
    await _load(ctx)
    first = await _counts(ctx)
    again = await _load(ctx)
    assert not again.created and await _counts(ctx) == first
    async with ctx.sessionmaker() as s:
        assert (await s.execute(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "demo.past"))).scalar_one() == 1
        numbers = sorted((await s.execute(select(Ticket.number))).scalars())
    # Same seed, same clock, fresh database: the same history.
    other = await make_ctx(make_settings(f"sqlite+aiosqlite:///{tmp_path}/other.db"), ctx.clock)
    try:
        await _load(other)
        assert await _counts(other) == first
        async with other.sessionmaker() as s:
            assert sorted((await s.execute(select(Ticket.number))).scalars()) == numbers
    finally:
        await other.close()

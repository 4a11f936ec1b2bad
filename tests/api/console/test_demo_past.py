"""The demo's believable past (issue 15): after demo-data the console shows a utility at work — every chart on
the reports page has data and every R18 target has a measured value; deterministic and idempotent."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from sqlalchemy import func, select
from typer.testing import CliRunner

from core import reports, staff, targets
from core.clock import FrozenClock
from core.context import AppContext
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
from onestop import cli
from tests.support.console import PASSWORD
from tests.support.context import make_ctx, make_settings

BAR_CHARTS = ("On-time rate by kind", "Satisfaction by agent", "Satisfaction by category", "Tickets by kind",
              "Tickets by utility")
LINE_CHARTS = ("On-time rate over time", "Satisfaction over time", "Tickets over time", "Answered by the bot alone")
# R18's six targets and R7's emergency on-time arrival, in the order the reports page lists them.
TARGETS = ["reading_rate", "reading_accuracy", "repair_timeliness", "first_time_fix", "followup_rate", "satisfaction",
           "emergency_arrival"]
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
        sup.language = "en"  # the chart titles below are the English ones
        await s.commit()
    c = await make_client("demo-supervisor")
    page = (await c.get("/console/reports")).text
    charts = dict(re.findall(r'<svg viewBox[^>]*aria-label="([^"]*)">(.*?)</svg>', page, re.S))
    assert set(charts) == set(BAR_CHARTS) | set(LINE_CHARTS), sorted(charts)  # every chart, each once
    for title in BAR_CHARTS:  # every bar drawn (no "no data" row), and not all of them empty
        body = charts[title]
        widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', body)]
        assert "no data" not in body and len(widths) >= 2 and max(widths) > 1, f"chart without data: {title}"
    for title in LINE_CHARTS:  # a line through most of the period's buckets
        points = re.findall(r"<circle ", charts[title])
        assert len(points) >= 10 and "<polyline" in charts[title], f"line without data: {title}"
    # R18: every target beside a measured value with the data behind it; missed ones in red.
    rows = re.findall(r'<tr id="target-(\w+)" class="(\w+)">(.*?)</tr>', page, re.S)
    assert [key for key, _, _ in rows] == TARGETS, rows
    for key, cls, cells in rows:
        assert cls in ("met", "missed") and "no data" not in cells, key
        part, whole = map(int, re.search(r"(\d+) / (\d+) —", cells).groups())
        assert whole > 0 and 0 <= part <= whole, key
        assert ('class="error"' in cells) == (cls == "missed"), key
    assert any(cls == "missed" for _, cls, _ in rows)  # a believable utility, not a perfect one
    home = (await c.get("/")).text
    assert re.search(r'id="tile-queued">2<', home), "the home page shows the queued chats"
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


async def _assert_first_look(ctx, now) -> None:
    """Every report series the charts draw has data and every R18 target is measured, for the default period."""
    period = reports.Period.parse(None, None, now)
    async with ctx.sessionmaker() as s:
        r = await reports.build(s, period=period, now=now)
        measured = await targets.measure(s, period=period, now=now)
    for name, series in (("on_time", r.on_time.series), ("satisfaction", r.satisfaction.series),
                         ("deflection", r.deflection.series)):
        assert sum(1 for _, v, _ in series if v is not None) >= 10, (now, name)
    assert sum(1 for _, v in r.volumes.series if v) >= 10, now
    assert r.on_time.by_kind and all(row.rate is not None for row in r.on_time.by_kind), now
    assert r.satisfaction.by_agent and all(row.score is not None for row in r.satisfaction.by_agent), now
    assert r.satisfaction.by_category and all(row.score is not None for row in r.satisfaction.by_category), now
    assert sum(r.volumes.by_kind.values()) > 0 and sum(r.volumes.by_utility.values()) > 0, now
    assert [t.key for t in measured] == TARGETS
    assert all(t.value is not None and t.met is not None for t in measured), (now, measured)


def test_make_run_first_look_after_the_cli_on_a_fresh_sqlite_database(tmp_path, monkeypatch) -> None:
    """What `make run` does (migrate, then demo-data) on a fresh SQLite file, with the real clock: every report
    series the charts draw has data and every R18 target is measured (issue 15, "a demo that shows a working
    utility")."""
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    for command in (["migrate"], ["demo-data"]):
        result = runner.invoke(cli.app, command)
        assert result.exit_code == 0, result.output
    assert "Demo history added" in result.output

    async def look() -> None:
        ctx = AppContext.create(make_settings(url))
        try:
            await _assert_first_look(ctx, ctx.clock.now())
        finally:
            await ctx.close()

    asyncio.run(look())


async def test_the_first_look_holds_whichever_day_the_demo_is_loaded(tmp_path) -> None:
    """The demo's history is drawn relative to "now", and the reports' default period is the last 30 days: on
    some load days a chart or a target had nothing to show. Each time below broke one of them before: no gas leak
    in the period (R7's emergency arrival), a category whose only surveys were unanswered, the 26th of a month
    (no reading window closed in the last 30 days)."""
    for i, now in enumerate((datetime(2026, 12, 6, 20, 0, tzinfo=UTC), datetime(2026, 12, 10, 11, 53, tzinfo=UTC),
                             datetime(2026, 12, 16, 20, 3, tzinfo=UTC), datetime(2026, 12, 26, 0, 36, tzinfo=UTC))):
        ctx = await make_ctx(make_settings(f"sqlite+aiosqlite:///{tmp_path}/day{i}.db"), FrozenClock(now))
        try:
            await _load(ctx)
            await _assert_first_look(ctx, now)
        finally:
            await ctx.close()

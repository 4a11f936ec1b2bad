"""R12 corrections, the dispatch idempotency and the demo's past on a real PostgreSQL, where row locks and
concurrent requests behave differently from SQLite."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core import corrections, staff, targets
from core.demo import load_demo
from core.demo_past import load_past
from core.reports import Period
from db.enums import ApprovalRole, CorrectionStatus, StaffRole
from db.models import BillCorrectionStep
from tests.api.test_corrections import _acc, _account_row, _charges, _correction, _import, _month

pytestmark = pytest.mark.postgres


async def test_r12_two_approvers_racing_record_one_step_and_post_once(pg_ctx) -> None:
    ctx = pg_ctx
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        await _import(s, now, _account_row(21) + _month(21, "800", "2240.00"))
        task = await _correction(s, _acc(21))
        users = {}
        for name, role in (("plain", None), ("lead", ApprovalRole.team_lead), ("lead2", ApprovalRole.team_lead),
                           ("manager", ApprovalRole.dept_manager)):
            users[name] = await staff.create_staff(s, username=name, display_name=name, role=StaffRole.agent,
                                                   password="x" * 12, now=now)
            users[name].approval_role = role
        await s.commit()
        await corrections.record_reread(s, correction_id=task.id, staff=users["plain"], volume="100", now=now)

    async def approve(name: str) -> str:
        async with ctx.sessionmaker() as s:
            user = await s.get(staff.StaffUser, users[name].id)
            try:
                await corrections.approve(s, correction_id=task.id, staff=user, now=now)
                return "ok"
            except corrections.CorrectionError as e:
                return str(e)

    results = await asyncio.gather(approve("lead"), approve("lead2"))
    assert results.count("ok") == 1 and "already recorded" in str(results)
    assert await approve("manager") == "ok"
    async with ctx.sessionmaker() as s:
        steps = (await s.execute(select(func.count()).select_from(BillCorrectionStep))).scalar_one()
        assert steps == 2 and (await _correction(s, _acc(21))).status is CorrectionStatus.posted
        assert len(await _charges(s, _acc(21))) == 2  # the held charge and the adjustment, once


async def test_demo_past_and_r18_targets_on_postgres(pg_ctx) -> None:
    ctx = pg_ctx
    now = ctx.clock.now()
    async with ctx.sessionmaker() as s:
        await load_demo(s, now=now)
        assert (await load_past(s, ctx=ctx)).created
        assert not (await load_past(s, ctx=ctx)).created
        measured = await targets.measure(s, period=Period.last_days(now), now=now)
    assert all(t.value is not None for t in measured), [(t.key, t.part, t.whole) for t in measured]

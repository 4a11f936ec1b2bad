"""Dispatch API /api/v1/outages (issue 15): the console's R9 rules, idempotency by external id, token roles."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from core import staff
from db.enums import OutageStatus, StaffRole
from db.models import AuditLog, OutageEvent, OutageNotice, OutboxNotification, StaffUser
from tests.support.outages import build_town

pytestmark = pytest.mark.usefixtures("compiled_catalogs")

AREA = {"streets": [{"district": "城东区", "street": "人民路"}]}
PLANNED = {"utility": "water", "kind": "planned", "reason_zh": "更换阀门", "reason_en": "Valve replacement",
           "area": AREA, "starts_at": "2026-12-10T08:00:00+08:00", "restore_at": "2026-12-10T18:00:00+08:00"}


@pytest.fixture
async def api(ctx):
    async with ctx.sessionmaker() as session:
        await build_town(session, ctx.clock.now())
        tokens = {role: await staff.create_api_token(session, name=f"scada-{role.value}", role=role,
                                                     now=ctx.clock.now()) for role in StaffRole}
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        def call(method: str, path: str, role: StaffRole = StaffRole.operator, **kw):
            headers = {"Authorization": f"Bearer {tokens[role]}", **kw.pop("headers", {})}
            return c.request(method, "/api/v1/outages" + path, headers=headers, **kw)
        yield call


async def _counts(ctx) -> tuple[int, int, int]:
    async with ctx.sessionmaker() as s:
        return tuple([(await s.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (OutageNotice, OutageEvent, OutboxNotification)])


async def test_create_announces_once_per_external_id(api, ctx) -> None:
    r = await api("POST", "", json={**PLANNED, "external_id": "SCADA-1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "announced" and body["external_id"] == "SCADA-1" and body["recipients"] > 0
    before = await _counts(ctx)
    again = await api("POST", "", json=PLANNED, headers={"X-External-Id": "SCADA-1"})  # the header works too
    assert again.status_code == 200 and again.json()["replayed"] and again.json()["number"] == body["number"]
    assert await _counts(ctx) == before  # a retry announces nothing twice
    clash = await api("POST", "", json={**PLANNED, "reason_zh": "别的原因", "external_id": "SCADA-1"})
    assert clash.status_code == 409
    listed = await api("GET", "")
    assert [o["external_id"] for o in listed.json()] == ["SCADA-1"]
    assert (await api("GET", "/SCADA-1")).json()["number"] == body["number"]
    assert (await api("GET", "/" + body["number"])).json()["external_id"] == "SCADA-1"
    assert (await api("GET", "/nope")).status_code == 404


async def test_r9_late_notices_are_refused_and_change_nothing(api, ctx) -> None:
    before = await _counts(ctx)
    late = {**PLANNED, "external_id": "SCADA-2", "starts_at": "2026-11-26T08:00:00+08:00",
            "restore_at": "2026-11-26T18:00:00+08:00"}
    r = await api("POST", "", json=late)
    assert r.status_code == 422 and "R9" in r.json()["detail"] and "7 working days" in r.json()["detail"]
    temp = {**late, "kind": "temporary", "starts_at": "2026-11-24T08:00:00+08:00",
            "restore_at": "2026-11-24T12:00:00+08:00"}
    r = await api("POST", "", json=temp)
    assert r.status_code == 422 and "24 hours" in r.json()["detail"]
    # An operator's justification is not enough; a supervisor's is (the same rule as the console).
    r = await api("POST", "", json={**late, "override_reason": "Burst main found during inspection"})
    assert r.status_code == 422 and "supervisor" in r.json()["detail"]
    assert await _counts(ctx) == before
    r = await api("POST", "", StaffRole.supervisor, json={**late, "override_reason": "Burst main found today"})
    assert r.status_code == 201 and r.json()["status"] == "announced"
    for bad in ({**PLANNED, "external_id": "x y"}, {**PLANNED, "external_id": "S-3", "reason_zh": " "},
                {**PLANNED, "external_id": "S-4", "starts_at": "2026-12-10T08:00:00"},
                {**PLANNED, "external_id": "S-5", "area": {"districts": ["月球区"]}}, PLANNED):
        r = await api("POST", "", json=bad)
        assert r.status_code == 422, (bad, r.text)


async def test_update_extend_restore_and_their_replays(api, ctx) -> None:
    emergency = {**PLANNED, "kind": "emergency", "external_id": "EMG-1", "starts_at": "2026-11-23T09:30:00+08:00",
                 "restore_at": "2026-11-23T15:00:00+08:00"}
    assert (await api("POST", "", json=emergency)).status_code == 201
    r = await api("PATCH", "/EMG-1", json={"note_zh": "抢修人员已到场", "note_en": "Crew on site"})
    assert r.status_code == 200 and r.json()["recipients"] > 0
    r = await api("PATCH", "/EMG-1", json={"reason_zh": "改原因"})
    assert r.status_code == 422
    r = await api("POST", "/EMG-1/extend", json={"restore_at": "2026-11-23T14:00:00+08:00"})
    assert r.status_code == 422  # not later: refused
    r = await api("POST", "/EMG-1/extend", json={"restore_at": "2026-11-23T18:00:00+08:00", "note_zh": "延长"})
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["restore_at"]) == datetime.fromisoformat("2026-11-23T18:00:00+08:00")
    before = await _counts(ctx)
    r = await api("POST", "/EMG-1/extend", json={"restore_at": "2026-11-23T18:00:00+08:00", "note_zh": "延长"})
    assert r.json()["replayed"] and await _counts(ctx) == before
    r = await api("POST", "/EMG-1/restore", json={})
    assert r.status_code == 200 and r.json()["status"] == "restored"
    before = await _counts(ctx)
    r = await api("POST", "/EMG-1/restore")
    assert r.json()["replayed"] and await _counts(ctx) == before
    r = await api("POST", "/EMG-1/extend", json={"restore_at": "2026-11-24T18:00:00+08:00"})
    assert r.status_code == 422


async def test_drafts_can_be_edited_then_announced(api, ctx) -> None:
    r = await api("POST", "", json={**PLANNED, "external_id": "D-1", "announce": False})
    assert r.status_code == 201 and r.json()["status"] == "draft"
    r = await api("PATCH", "/D-1", json={"reason_en": "Valve and meter replacement"})
    assert r.status_code == 200 and r.json()["reason_en"] == "Valve and meter replacement"
    r = await api("POST", "/D-1/announce")
    assert r.status_code == 200 and r.json()["status"] == OutageStatus.announced.value


async def test_token_roles_operator_may_agent_may_not(api) -> None:
    for method, path, body in (("GET", "", None), ("POST", "", {**PLANNED, "external_id": "R-1"}),
                               ("GET", "/R-1", None), ("PATCH", "/R-1", {"note_zh": "x"}),
                               ("POST", "/R-1/extend", {"restore_at": "2026-12-10T20:00:00+08:00"}),
                               ("POST", "/R-1/restore", {}), ("POST", "/R-1/announce", None)):
        r = await api(method, path, StaffRole.agent, json=body)
        assert r.status_code == 403, (method, path)
    r = await api("POST", "", StaffRole.operator, json={**PLANNED, "external_id": "R-1"})
    assert r.status_code == 201


def test_openapi_documents_the_dispatch_api_with_examples(ctx) -> None:
    spec = create_app(ctx).openapi()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/outages"])
    assert {"/api/v1/outages/{ref}", "/api/v1/outages/{ref}/extend", "/api/v1/outages/{ref}/restore"} <= set(paths)
    create = spec["components"]["schemas"]["OutageCreate"]
    assert create["examples"][0]["external_id"] == "SCADA-2026-0412"
    assert "422" in paths["/api/v1/outages"]["post"]["responses"]


async def test_every_dispatch_action_is_audited_with_the_tokens_service_identity(api, ctx) -> None:
    """Issue 15 dispatch API + R9 records: each action by a token is audited under the token's own service
    identity (core/staff.py, kind "service"), never anonymously, and its outage events carry the same id."""
    emergency = {**PLANNED, "kind": "emergency", "external_id": "EMG-AUD", "starts_at": "2026-11-23T09:30:00+08:00",
                 "restore_at": "2026-11-23T15:00:00+08:00"}
    assert (await api("POST", "", json=emergency)).status_code == 201
    assert (await api("PATCH", "/EMG-AUD", json={"note_zh": "抢修人员已到场"})).status_code == 200
    assert (await api("POST", "/EMG-AUD/extend", json={"restore_at": "2026-11-23T18:00:00+08:00"})).status_code == 200
    assert (await api("POST", "/EMG-AUD/restore", json={})).status_code == 200
    async with ctx.sessionmaker() as s:
        service = (await s.execute(select(StaffUser).where(
            StaffUser.username == staff.token_username("scada-operator")))).scalar_one()
        assert service.kind == staff.SERVICE
        outage = (await s.execute(select(OutageNotice).where(OutageNotice.external_id == "EMG-AUD"))).scalar_one()
        rows = (await s.execute(select(AuditLog.action, AuditLog.staff_id).where(
            AuditLog.target_type == "outage", AuditLog.action.like("outage.%")))).all()
        events = (await s.execute(select(OutageEvent.kind, OutageEvent.staff_id).where(
            OutageEvent.outage_id == outage.id))).all()
    actions = {action for action, _ in rows}
    assert {"outage.create", "outage.announce", "outage.progress", "outage.extended", "outage.restore"} <= actions
    assert all(staff_id == service.id for _, staff_id in rows), rows
    assert events and all(staff_id == service.id for _, staff_id in events), events

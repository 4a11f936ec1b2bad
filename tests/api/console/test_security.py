"""Roles are enforced server-side on every route, every state-changing request needs the CSRF token, and every
console form carries it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from db.enums import ROLE_RANK, StaffRole
from tests.support.console import queue_resident, token_of
from tests.support.context import make_settings


def required_role(route: APIRoute) -> StaffRole | None:
    """The highest role any dependency of the route demands (api.deps.require_role closures)."""
    found: list[StaffRole] = []

    def walk(dependant) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            if getattr(call, "__qualname__", "").startswith("require_role.") and call.__closure__:
                found.extend(c.cell_contents for c in call.__closure__ if isinstance(c.cell_contents, StaffRole))
            walk(sub)

    walk(route.dependant)
    return max(found, key=ROLE_RANK.__getitem__) if found else None


def _routes() -> list[tuple[str, APIRoute]]:
    """(full path, route) of every API route of the app, however deeply routers are included."""
    app = create_app(settings=make_settings("sqlite+aiosqlite:///:memory:"))
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x keeps included routers nested
    except ImportError:
        return [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    return [(rc.path, rc.original_route) for rc in iter_route_contexts(app.routes)
            if isinstance(rc.original_route, APIRoute)]


ROUTES = _routes()
ABOVE_AGENT = sorted({(m, path, required_role(r).value) for path, r in ROUTES for m in r.methods - {"HEAD"}
                      if required_role(r) is not None and ROLE_RANK[required_role(r)] > ROLE_RANK[StaffRole.agent]})
WRITES = sorted({(m, path) for path, r in ROUTES for m in r.methods & {"POST", "PUT", "PATCH", "DELETE"}
                 if not path.startswith("/sandbox") and path != "/login"})


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_role_table_covers_the_console() -> None:
    paths = {p for _, p, _ in ABOVE_AGENT}
    assert "/console/reports" in paths and "/console/audit" in paths
    assert "/console/knowledge/suggestions/{suggestion_id}/{decision}" in paths
    assert required_role(next(r for path, r in ROUTES if path == "/console/audit")) is StaffRole.admin


@pytest.mark.parametrize(("method", "path", "role"), ABOVE_AGENT)
async def test_agent_gets_403_above_their_role(method, path, role, make_client, staff_users) -> None:
    agent = await make_client("agent")
    token = await token_of(agent, "/")
    r = await agent.request(method, _fill(path), headers={"X-CSRF-Token": token})
    assert r.status_code == 403, f"{method} {path} (needs {role}) gave {r.status_code}"
    assert "role" in r.text


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_writes_without_csrf_token_are_refused(method, path, make_client, staff_users) -> None:
    admin = await make_client("admin")  # the strongest session: the token is the only thing missing
    r = await admin.request(method, _fill(path), data={"x": "1"} if method != "DELETE" else None)
    assert r.status_code == 403 and "CSRF" in r.text, f"{method} {path} gave {r.status_code}: {r.text[:200]}"


async def test_every_console_form_carries_the_csrf_token(ctx, make_client, staff_users) -> None:
    from core import appointments, tickets
    from db.models import Resident, SlotCapacity

    conv = await queue_resident(ctx, text="hello")
    async with ctx.sessionmaker() as s:
        resident = await s.get(Resident, 10001)
        t = await tickets.create_ticket(s, ctx=ctx, kind="complaint", resident=resident, subject="x",
                                        contact_phone="13800000001")
        s.add(SlotCapacity(district="城东区", window="09-12", day=None, capacity=4))
        await s.commit()
        day = ctx.calendar.add_working_days((ctx.clock.now() + timedelta(days=1)).date(), 1)
        await appointments.request_appointment(s, ctx=ctx, resident=resident, service="meter_check",
                                               district="城东区", address="人民路1号", day=day, window="09-12")
    admin = await make_client("admin")
    await admin.post(f"/console/conversations/{conv.id}/claim", data={"csrf_token": await token_of(admin)})
    pages = ["/", "/console/queue", f"/console/conversations/{conv.id}", "/console/tickets",
             f"/console/tickets/{t.number}", f"/console/appointments?day={day.isoformat()}", "/console/reports",
             "/console/knowledge", "/console/audit"]
    checked = 0
    for page in pages:
        r = await admin.get(page)
        assert r.status_code == 200, page
        for form in re.findall(r"<form\b[^>]*>.*?</form>", r.text, flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I):
                assert 'name="csrf_token"' in form, f"{page}: form without CSRF token: {form[:200]}"
                checked += 1
    assert checked >= 20


async def test_personal_data_stays_out_of_logs(ctx, make_client, staff_users, caplog) -> None:
    conv = await queue_resident(ctx, text="我的电话是13800000001")
    agent = await make_client("agent")
    token = await token_of(agent)
    await agent.post(f"/console/conversations/{conv.id}/claim", data={"csrf_token": token})
    with caplog.at_level("INFO"):  # what `onestop run` logs
        await agent.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": token,
                                                                          "text": "您的户号是1000010015吗"})
        await agent.get(f"/console/conversations/{conv.id}")
    assert "13800000001" not in caplog.text and "1000010015" not in caplog.text

"""Issue 12 F3 (cookie flags) and F5 (revocation): deactivating, resetting or changing a password, and revoking a
token end sessions at once; the admin page does the same as the CLI, with CSRF and an audit entry; tokens record
their last use without a write per request."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, select
from typer.testing import CliRunner

from api.app import create_app
from core import staff
from db.enums import StaffRole
from db.models import ApiToken, AuditLog, StaffUser
from tests.support.console import PASSWORD, login, token_of
from tests.support.context import make_ctx, make_settings


async def _still_in(c: httpx.AsyncClient) -> bool:
    r = await c.get("/console/queue", follow_redirects=False)
    return r.status_code == 200


async def test_cookie_is_secure_when_the_public_url_is_https(tmp_path, clock) -> None:
    ctx = await make_ctx(make_settings(f"sqlite+aiosqlite:///{tmp_path}/c.db",
                                       public_url="https://desk.example.org"), clock)
    try:
        app = create_app(ctx)
        # Plain http inside: a TLS-terminating proxy in front, and no proxy headers trusted.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            r = await c.get("/login")
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    finally:
        await ctx.close()


async def test_cookie_without_https_public_url_is_still_httponly_lax(staff_client: httpx.AsyncClient) -> None:
    cookie = (await staff_client.get("/login")).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


async def test_deactivating_ends_every_session_at_once(ctx, make_client, staff_users) -> None:
    a, b = await make_client("agent"), await make_client("agent")
    assert await _still_in(a) and await _still_in(b)
    async with ctx.sessionmaker() as s:
        await staff.deactivate_staff(s, username="agent", now=ctx.clock.now())
    assert not await _still_in(a) and not await _still_in(b)
    assert (await login(a, "agent")).status_code == 401  # and no new login either


async def test_reset_password_ends_sessions(ctx, make_client, staff_users) -> None:
    a = await make_client("operator")
    async with ctx.sessionmaker() as s:
        _, new = await staff.reset_password(s, username="operator", now=ctx.clock.now())
    assert not await _still_in(a)
    assert (await login(a, "operator", PASSWORD)).status_code == 401
    assert (await login(a, "operator", new)).status_code == 303


async def test_changing_ones_password_ends_the_other_sessions_only(make_client, staff_users) -> None:
    here, there = await make_client("agent"), await make_client("agent")
    token = await token_of(here, "/console/password")
    r = await here.post("/console/password", data={"csrf_token": token, "current": "wrong", "new": "a" * 12,
                                                     "confirm": "a" * 12})
    assert r.status_code == 422 and "not correct" in r.text and await _still_in(there)
    r = await here.post("/console/password", data={"csrf_token": token, "current": PASSWORD,
                                                     "new": "a new long password", "confirm": "a new long password"})
    assert r.status_code == 200 and "other sessions have ended" in r.text
    assert await _still_in(here)
    assert not await _still_in(there)
    fresh = await make_client()
    assert (await login(fresh, "agent", "a new long password")).status_code == 303


async def test_revoked_token_is_refused_on_the_next_request(ctx, staff_client: httpx.AsyncClient) -> None:
    async with ctx.sessionmaker() as s:
        bearer = await staff.create_api_token(s, name="billing", role=StaffRole.operator, now=ctx.clock.now())
        await s.commit()
    auth = {"Authorization": f"Bearer {bearer}"}
    assert (await staff_client.get("/api/v1/me", headers=auth)).status_code == 200
    async with ctx.sessionmaker() as s:
        assert await staff.revoke_token(s, name="billing", now=ctx.clock.now()) == 1
    assert (await staff_client.get("/api/v1/me", headers=auth)).status_code == 401


async def test_token_last_use_is_written_at_most_once_a_minute(ctx, staff_client: httpx.AsyncClient, clock) -> None:
    async with ctx.sessionmaker() as s:
        bearer = await staff.create_api_token(s, name="billing", role=StaffRole.operator, now=ctx.clock.now())
        await s.commit()
    auth = {"Authorization": f"Bearer {bearer}"}
    writes: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
            writes.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
    try:
        first = ctx.clock.now()
        for _ in range(5):
            assert (await staff_client.get("/api/v1/me", headers=auth)).status_code == 200
        assert len(writes) == 1
        clock.advance(seconds=61)
        assert (await staff_client.get("/api/v1/me", headers=auth)).status_code == 200
        assert len(writes) == 2
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)
    async with ctx.sessionmaker() as s:
        row = (await s.execute(select(ApiToken))).scalar_one()
        assert row.last_used_at == first + timedelta(seconds=61)


async def test_admin_page_deactivates_resets_and_revokes(ctx, make_client, staff_users) -> None:
    async with ctx.sessionmaker() as s:
        bearer = await staff.create_api_token(s, name="crm", role=StaffRole.agent, now=ctx.clock.now())
        await s.commit()
    admin, victim = await make_client("admin"), await make_client("supervisor")
    page = await admin.get("/console/admin/staff")
    assert page.status_code == 200 and "supervisor" in page.text and "crm" in page.text and "never" in page.text
    token = await token_of(admin, "/console/admin/staff")
    sup = staff_users[StaffRole.supervisor]
    r = await admin.post(f"/console/admin/staff/{sup}/reset-password", data={"csrf_token": "forged"})
    assert r.status_code == 403 and await _still_in(victim)  # CSRF
    r = await admin.post(f"/console/admin/staff/{sup}/reset-password", data={"csrf_token": token})
    assert r.status_code == 200 and 'id="new-password"' in r.text and r.headers["cache-control"] == "no-store"
    assert not await _still_in(victim)
    r = await admin.post(f"/console/admin/staff/{sup}/deactivate", data={"csrf_token": token})
    assert r.status_code == 303
    async with ctx.sessionmaker() as s:
        tok = (await s.execute(select(ApiToken).where(ApiToken.name == "crm"))).scalar_one()
    r = await admin.post(f"/console/admin/tokens/{tok.id}/revoke", data={"csrf_token": token})
    assert r.status_code == 303
    assert (await admin.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})).status_code == 401
    async with ctx.sessionmaker() as s:
        actions = (await s.execute(select(AuditLog.action).where(
            AuditLog.staff_id == staff_users[StaffRole.admin]))).scalars().all()
        assert {"staff.reset_password", "staff.deactivate", "token.revoke"} <= set(actions)
        assert not (await s.get(StaffUser, sup)).active
    # The last active admin cannot lock everybody out.
    r = await admin.post(f"/console/admin/staff/{staff_users[StaffRole.admin]}/deactivate", data={"csrf_token": token})
    assert r.status_code == 422 and "last active admin" in r.text and await _still_in(admin)


async def test_agent_cannot_use_the_admin_page(make_client, staff_users) -> None:
    agent = await make_client("agent")
    assert (await agent.get("/console/admin/staff")).status_code == 403


@pytest.mark.parametrize("command", ["deactivate-staff", "reset-password"])
def test_cli_ends_sessions(command: str, tmp_path, monkeypatch) -> None:
    """The CLI commands work on the configured database and refuse an unknown name in one line."""
    from onestop.cli import app as cli

    db = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    assert runner.invoke(cli, ["create-staff", "ann", "--role", "agent"]).exit_code == 0
    result = runner.invoke(cli, [command, "ann"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [command, "nobody"])
    assert result.exit_code == 1 and "no staff member named 'nobody'" in result.output

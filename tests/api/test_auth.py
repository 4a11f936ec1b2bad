"""Staff login, sessions, CSRF, roles and throttling."""

from __future__ import annotations

import httpx
import pytest

from db.enums import StaffRole
from tests.support.console import csrf, csrf_from, login


async def test_healthz(staff_client: httpx.AsyncClient) -> None:
    r = await staff_client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_console_requires_login(staff_client: httpx.AsyncClient) -> None:
    r = await staff_client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await staff_client.get("/api/v1/me")
    assert r.status_code == 401


async def test_login_and_logout(staff_client: httpx.AsyncClient, staff_users) -> None:
    r = await login(staff_client, "agent")
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = await staff_client.get("/")
    assert home.status_code == 200 and "agent user" in home.text
    me = await staff_client.get("/api/v1/me")
    assert me.json()["role"] == "agent"
    token = await csrf(staff_client)
    await staff_client.post("/logout", data={"csrf_token": token})
    assert (await staff_client.get("/")).status_code == 303


async def test_wrong_password_and_lockout(staff_client: httpx.AsyncClient, staff_users, ctx) -> None:
    for _ in range(ctx.settings.login_max_failures):
        r = await login(staff_client, "agent", "wrong")
        assert r.status_code == 401 and "Wrong username or password" in r.text
    r = await login(staff_client, "agent")  # right password, but this username is locked from this address now
    assert r.status_code == 429 and "Too many failed attempts" in r.text


async def test_unknown_user_is_indistinguishable(staff_client: httpx.AsyncClient, staff_users) -> None:
    a = await login(staff_client, "nobody", "x")
    b = await login(staff_client, "agent", "x")
    assert a.status_code == b.status_code == 401
    assert "Wrong username or password" in a.text and "Wrong username or password" in b.text


async def test_login_form_needs_csrf(staff_client: httpx.AsyncClient, staff_users) -> None:
    await staff_client.get("/login")
    r = await staff_client.post("/login", data={"username": "agent", "password": "x", "csrf_token": "forged"})
    assert r.status_code == 403


async def test_post_without_csrf_is_refused(staff_client: httpx.AsyncClient, staff_users) -> None:
    await login(staff_client, "agent")
    r = await staff_client.post("/logout", data={})
    assert r.status_code == 403
    assert (await staff_client.get("/")).status_code == 200, "forged logout must not end the session"


async def test_open_redirect_is_not_followed(staff_client: httpx.AsyncClient, staff_users) -> None:
    page = await staff_client.get("/login")
    r = await staff_client.post("/login", data={"username": "agent", "password": "correct horse battery",
                                          "csrf_token": csrf_from(page.text), "next": "//evil.example/"})
    assert r.headers["location"] == "/"


async def test_session_cookie_is_tamper_proof(staff_client: httpx.AsyncClient, staff_users) -> None:
    await login(staff_client, "agent")
    cookie = staff_client.cookies.get("onestop_session")
    staff_client.cookies.set("onestop_session", cookie[:-3] + "abc")
    assert (await staff_client.get("/")).status_code == 303


async def test_idle_session_expires(staff_client: httpx.AsyncClient, staff_users, api_app, monkeypatch) -> None:
    import time as time_mod

    await login(staff_client, "agent")
    real = time_mod.time
    monkeypatch.setattr("api.security.time.time", lambda: real() + api_app.state.sessions.idle_timeout + 5)
    assert (await staff_client.get("/")).status_code == 303


async def test_bearer_token_api(staff_client: httpx.AsyncClient, ctx) -> None:
    from core import staff

    async with ctx.sessionmaker() as session:
        token = await staff.create_api_token(session, name="billing", role=StaffRole.operator, now=ctx.clock.now())
        await session.commit()
    r = await staff_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    r = await staff_client.get("/api/v1/me", headers={"Authorization": "Bearer ost_forged"})
    assert r.status_code == 401


@pytest.mark.parametrize("path", ["/api/openapi.json"])
async def test_openapi_documents_the_api(staff_client: httpx.AsyncClient, path: str) -> None:
    r = await staff_client.get(path)
    assert r.status_code == 200 and "/api/v1/me" in r.json()["paths"]

"""Helpers for the back office over httpx: log in, read CSRF tokens, put residents in the handoff queue."""

from __future__ import annotations

import re

import httpx

from core import handoff
from core.context import AppContext
from db.enums import StaffRole
from db.models import Conversation, Resident

PASSWORD = "correct horse battery"  # the password of the ``staff_users`` fixture's users

# The console speaks each staff member's language (default Chinese) and, before login, the browser's. The tests
# assert English texts, so the fixture users and the browser are English; tests/api/console/test_language.py
# covers Chinese and the switch.
ENGLISH = {"Accept-Language": "en"}


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    token = csrf_from(page.text)
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                             "next": "/"})


async def csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token of the client's current session."""
    page = await client.get("/")
    m = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert m
    return m.group(1)


async def token_of(c: httpx.AsyncClient, path: str = "/console/queue") -> str:
    page = await c.get(path)
    m = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert m, page.text[:500]
    return m.group(1)


async def as_role(client: httpx.AsyncClient, role: StaffRole) -> dict[str, str]:
    """Log the client in as the test staff member of ``role`` (the ``staffers`` fixture's t-<role>); returns the
    CSRF header for its posts."""
    if client.cookies:
        await client.post("/logout", data={"csrf_token": await csrf(client)})
    r = await login(client, f"t-{role.value}", "pw-" + role.value)
    assert r.status_code == 303, r.text
    return {"X-CSRF-Token": await csrf(client)}


async def add_resident(ctx: AppContext, user_id: int = 10001, language: str = "zh_Hans", name: str = "王建国",
                       guided: bool = False) -> Resident:
    async with ctx.sessionmaker() as s:
        r = Resident(id=user_id, first_name=name, language=language, guided_mode=guided, blocked=False,
                     link_failures=0, misses=0, created_at=ctx.clock.now())
        s.add(r)
        await s.commit()
        return r


async def queue_resident(ctx: AppContext, user_id: int = 10001, language: str = "zh_Hans", text: str | None = None,
                         name: str = "王建国") -> Conversation:
    resident = await add_resident(ctx, user_id, language, name)
    async with ctx.sessionmaker() as s:
        resident = await s.get(Resident, user_id)
        conv = await handoff.request_handoff(s, ctx=ctx, resident=resident, reason="button")
        if text:
            await handoff.relay_from_resident(s, ctx=ctx, conversation=conv, text=text)
        return conv

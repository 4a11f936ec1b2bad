"""Console fixtures: the API app and logged-in clients (from tests/api), plus residents in the handoff queue."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from core import handoff
from core.context import AppContext
from db.enums import StaffRole
from db.models import Conversation, Resident
from tests.api.conftest import PASSWORD, app, client, csrf_from, login, staff_users  # noqa: F401  (fixtures)


@pytest.fixture
async def make_client(app) -> AsyncIterator:  # noqa: F811
    """Extra clients, one per staff member: ``await make_client("agent")`` returns a logged-in client."""
    clients: list[httpx.AsyncClient] = []

    async def make(username: str | None = None) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        if username:
            r = await login(c, username)
            assert r.status_code == 303, r.text
        return c

    yield make
    for c in clients:
        await c.aclose()


async def token_of(c: httpx.AsyncClient, path: str = "/console/queue") -> str:
    page = await c.get(path)
    m = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page.text)
    assert m, page.text[:500]
    return m.group(1)


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


@pytest.fixture
async def agent2(ctx: AppContext, staff_users) -> int:  # noqa: F811
    from core import staff

    async with ctx.sessionmaker() as s:
        user = await staff.create_staff(s, username="agent2", display_name="Agent Two", role=StaffRole.agent,
                                        password=PASSWORD, now=ctx.clock.now())
        user.language = "en"  # like the users of staff_users: these tests read English pages
        await s.commit()
        return user.id

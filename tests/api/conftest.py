"""API fixtures: the app over httpx, staff users of every role, and a logged-in client helper."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from core import staff
from core.context import AppContext
from db.enums import StaffRole

PASSWORD = "correct horse battery"


@pytest.fixture
async def app(ctx: AppContext):
    return create_app(ctx)


# The console speaks each staff member's language (default Chinese) and, before login, the browser's. The tests
# here assert English texts, so the fixture users and the browser are English; tests/console/test_language.py
# covers Chinese and the switch.
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ENGLISH) as c:
        yield c


@pytest.fixture
async def staff_users(ctx: AppContext) -> dict[StaffRole, int]:
    ids = {}
    async with ctx.sessionmaker() as session:
        for role in StaffRole:
            user = await staff.create_staff(session, username=role.value, display_name=f"{role.value} user",
                                            role=role, password=PASSWORD, now=ctx.clock.now())
            user.language = "en"
            ids[role] = user.id
        await session.commit()
    return ids


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

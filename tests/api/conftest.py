"""API fixtures: the back office over httpx (staff and test-staffer clients, extra logged-in clients, a second
agent) and the sandbox on its own (its state, app, ASGI client, a real uvicorn server and a real aiogram Bot)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.app import STATIC_DIR, create_app
from api.sandbox import SandboxState, router
from core.context import AppContext
from db.enums import StaffRole
from tests.support.console import ENGLISH, PASSWORD, login
from tests.support.sandbox import TOKEN

# --- the back office ---------------------------------------------------------------------------------------


@pytest.fixture
async def api_app(ctx: AppContext):
    return create_app(ctx)


@pytest.fixture
async def staff_client(api_app) -> AsyncIterator[httpx.AsyncClient]:
    """The app over httpx, English browser; log in as a ``staff_users`` member with ``support.console.login``."""
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ENGLISH) as c:
        yield c


@pytest.fixture
async def make_client(api_app) -> AsyncIterator:
    """Extra clients, one per staff member: ``await make_client("agent")`` returns a logged-in client."""
    clients: list[httpx.AsyncClient] = []

    async def make(username: str | None = None) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://testserver")
        clients.append(c)
        if username:
            r = await login(c, username)
            assert r.status_code == 303, r.text
        return c

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def agent2(ctx: AppContext, staff_users) -> int:
    from core import staff

    async with ctx.sessionmaker() as s:
        user = await staff.create_staff(s, username="agent2", display_name="Agent Two", role=StaffRole.agent,
                                        password=PASSWORD, now=ctx.clock.now())
        user.language = "en"  # like the users of staff_users: these tests read English pages
        await s.commit()
        return user.id


@pytest.fixture
async def staffer_client(ctx, staffers):
    """The app over httpx, with the test staff (t-agent, t-operator, …) created; log in with
    ``support.console.as_role``."""
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


# --- the sandbox -------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox_state() -> SandboxState:
    return SandboxState(pay_timeout=5, token=TOKEN)


@pytest.fixture
def sandbox_app(sandbox_state: SandboxState) -> FastAPI:
    """An app with only the sandbox router."""
    app = FastAPI()
    app.include_router(router)
    # The chat page's script and styles are static files (no inline script under the CSP), as in create_app.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.sandbox = sandbox_state
    return app


@pytest.fixture
async def sandbox_client(sandbox_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url="http://sandbox.test") as c:
        yield c


@pytest.fixture
async def sandbox_server(sandbox_app: FastAPI, sandbox_state: SandboxState) -> AsyncIterator[str]:
    """Serve the app with uvicorn on 127.0.0.1:<free port> in this event loop; yields the sandbox base URL."""
    # Port 0 lets the OS pick a free port. (A hand-made socket.socket() has proto 0, which makes
    # asyncio skip TCP_NODELAY and costs ~40 ms per request.)
    config = uvicorn.Config(
        sandbox_app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        loop="asyncio",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    for _ in range(500):
        if srv.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/sandbox"
    sandbox_state.close()  # release long polls so shutdown is quick
    srv.should_exit = True
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def sandbox_bot(sandbox_server: str) -> AsyncIterator[Bot]:
    """A real aiogram Bot pointed at the sandbox server."""
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox_server)))
    yield bot
    await bot.session.close()

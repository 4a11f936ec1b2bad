"""Fixtures for the sandbox: an app with only the sandbox router, an ASGI client, a real uvicorn server
on a free port and a real aiogram Bot pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from httpx import ASGITransport, AsyncClient

from api.app import STATIC_DIR
from api.sandbox import SandboxState, router

TOKEN = "424242:SANDBOX-test_token"


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(pay_timeout=5, token=TOKEN)


@pytest.fixture
def app(state: SandboxState) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    # The chat page's script and styles are static files (no inline script under the CSP), as in create_app.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.sandbox = state
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://sandbox.test") as c:
        yield c


@pytest.fixture
async def server(app: FastAPI, state: SandboxState) -> AsyncIterator[str]:
    """Serve the app with uvicorn on 127.0.0.1:<free port> in this event loop; yields the sandbox base URL."""
    # Port 0 lets the OS pick a free port. (A hand-made socket.socket() has proto 0, which makes
    # asyncio skip TCP_NODELAY and costs ~40 ms per request.)
    config = uvicorn.Config(
        app,
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
    state.close()  # release long polls so shutdown is quick
    srv.should_exit = True
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def bot(server: str) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server)))
    yield bot
    await bot.session.close()

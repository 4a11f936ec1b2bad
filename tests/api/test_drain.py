"""SIGTERM (issue 13, graceful stop): ``begin_drain`` releases every long-lived request at once, so the server
stops within its graceful timeout instead of cancelling them mid-flight (a traceback in the log and a browser
that sees a broken stream rather than a closed one)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from api.app import begin_drain


async def _drain_soon(app: FastAPI) -> None:
    await asyncio.sleep(0.3)
    begin_drain(app)


async def test_a_stop_closes_the_console_live_stream(api_app: FastAPI, staff_users, make_client) -> None:
    agent = await make_client("agent")
    stopper = asyncio.create_task(_drain_soon(api_app))
    r = await asyncio.wait_for(agent.get("/console/live?topics=queue"), 5)  # the stream pings every 15 s
    await stopper
    assert r.status_code == 200 and r.text.startswith("retry: 2000") and api_app.state.stopping.is_set()


async def test_a_stop_answers_the_sandbox_long_poll_at_once(api_app: FastAPI) -> None:
    sandbox = getattr(api_app.state, "sandbox", None)
    if sandbox is None:
        pytest.skip("this configuration does not serve the sandbox")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url="http://testserver") as c:
        stopper = asyncio.create_task(_drain_soon(api_app))
        r = await asyncio.wait_for(c.post(f"/sandbox/bot{sandbox.token}/getUpdates", json={"timeout": 30}), 5)
        await stopper
    assert r.status_code == 200 and r.json() == {"ok": True, "result": []}

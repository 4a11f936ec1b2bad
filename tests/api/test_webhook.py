"""The webhook receiver and the operators' inbox pages (issue 13, items 1, 5 and 6), through the real app."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from api import webhook
from api.app import create_app
from core import inbox
from core.context import AppContext
from db.models import AuditLog, InboundUpdate
from tests.core.test_inbox import raw_text
from tests.support.console import login

SECRET = "s3cret-Token_for-webhook"
URL = "https://bot.example.org/tg/hook-7f3a"


@pytest.fixture
def webhook_ctx(ctx: AppContext) -> AppContext:
    ctx.settings.telegram_bot_token = SecretStr("123456:TEST")
    ctx.settings.telegram_webhook_url = URL
    ctx.settings.telegram_webhook_secret = SecretStr(SECRET)
    return ctx


@pytest.fixture
async def hook(webhook_ctx: AppContext) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(webhook_ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c, app


async def _count(ctx: AppContext) -> int:
    async with ctx.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(InboundUpdate))


def _post(c: httpx.AsyncClient, body: object, secret: str | None = SECRET, **kw):
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return c.post("/tg/hook-7f3a", content=content, headers=headers)


async def test_the_webhook_stores_the_update_before_answering_200(hook, webhook_ctx: AppContext) -> None:
    c, _ = hook
    r = await _post(c, raw_text(7001, 801, "hi"))
    assert r.status_code == 200
    async with webhook_ctx.sessionmaker() as s:
        row = await s.get(InboundUpdate, 7001)
    assert row.status == inbox.WAITING and row.chat_key == 801 and row.payload["message"]["text"] == "hi"
    assert (await _post(c, raw_text(7001, 801, "hi"))).status_code == 200  # Telegram's retry: stored once
    assert await _count(webhook_ctx) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_forged_request_gets_401_and_changes_nothing(hook, webhook_ctx: AppContext, secret) -> None:
    c, _ = hook
    r = await _post(c, raw_text(7002, 802, "forged"), secret=secret)
    assert r.status_code == 401
    assert await _count(webhook_ctx) == 0


@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b'{"update_id": "7"}', b'{"message": {}}',
                                  b'{"update_id": 99999999999999999999}', b"\xff\xfe"])
async def test_a_malformed_body_gets_400_and_changes_nothing(hook, webhook_ctx: AppContext, body) -> None:
    c, _ = hook
    r = await _post(c, body)
    assert r.status_code == 400, r.text
    assert await _count(webhook_ctx) == 0


async def test_an_oversized_body_gets_413_and_changes_nothing(hook, webhook_ctx: AppContext) -> None:
    c, _ = hook
    big = raw_text(7003, 803, "x" * (webhook_ctx.settings.inbox.max_body_bytes + 10))
    assert (await _post(c, big)).status_code == 413
    assert await _count(webhook_ctx) == 0


async def test_a_stopping_process_answers_503_so_telegram_retries(hook, webhook_ctx: AppContext) -> None:
    c, app = hook
    app.state.stopping.set()
    r = await _post(c, raw_text(7004, 804, "late"))
    assert r.status_code == 503 and r.headers["retry-after"]
    assert await _count(webhook_ctx) == 0
    assert (await _post(c, raw_text(7004, 804, "late"), secret="bad")).status_code == 401


async def test_without_webhook_settings_there_is_no_webhook_route(staff_client: httpx.AsyncClient, ctx) -> None:
    r = await staff_client.post("/tg/hook-7f3a", json=raw_text(7005, 805, "x"),
                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code in (404, 405)
    assert await _count(ctx) == 0


async def test_webhook_mode_needs_both_variables(ctx: AppContext) -> None:
    ctx.settings.telegram_webhook_url = URL
    assert not ctx.settings.webhook and ctx.settings.webhook_path() is None
    ctx.settings.telegram_webhook_secret = SecretStr(SECRET)
    assert ctx.settings.webhook and ctx.settings.webhook_path() == "/tg/hook-7f3a"


async def test_console_home_and_inbox_page_show_the_inbox(hook, webhook_ctx: AppContext,
                                                          staff_users) -> None:
    c, _ = hook
    for i, text in enumerate(["a", "b", "c"]):
        await _post(c, raw_text(7100 + i, 810 + i, text))
    webhook_ctx.clock.advance(seconds=90)
    async with webhook_ctx.sessionmaker() as s:
        await inbox.claim(s, worker="w", now=webhook_ctx.clock.now(), limit=1, lease_seconds=30)
        await inbox.claim(s, worker="w", now=webhook_ctx.clock.now(), limit=1, lease_seconds=30)
        await inbox.mark_failed(s, 7101, worker="w", now=webhook_ctx.clock.now(), error="ValueError: <b>bad</b>",
                                attempts=4, max_attempts=4, retry_base_seconds=1)
        await s.commit()
    assert (await login(c, "agent")).status_code == 303
    home = (await c.get("/")).text
    assert 'id="inbox-waiting">1<' in home and 'id="inbox-working">1<' in home
    assert 'id="inbox-parked">1<' in home and 'id="inbox-oldest">90 s<' in home
    page = await c.get("/console/inbox")
    assert page.status_code == 200
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt;" in page.text and "7101" in page.text  # escaped, with the error
    assert "/console/inbox/7101/retry" not in page.text  # agents look; operators retry
    token = await _csrf(c)
    assert (await c.post("/console/inbox/7101/retry", headers={"X-CSRF-Token": token})).status_code == 403

    c.cookies.clear()
    assert (await login(c, "operator")).status_code == 303
    page = await c.get("/console/inbox")
    assert "/console/inbox/7101/retry" in page.text
    assert (await c.post("/console/inbox/7101/retry", data={"csrf_token": "forged"})).status_code == 403
    r = await c.post("/console/inbox/7101/retry", headers={"X-CSRF-Token": await _csrf(c)})
    assert r.status_code == 303
    async with webhook_ctx.sessionmaker() as s:
        assert (await s.get(InboundUpdate, 7101)).status == inbox.WAITING
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "inbox.retry"))


async def _csrf(c: httpx.AsyncClient) -> str:
    m = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', (await c.get("/")).text)
    assert m
    return m.group(1)


async def test_a_request_cancelled_mid_store_still_stores_the_update_whole(hook, webhook_ctx: AppContext,
                                                                          monkeypatch) -> None:
    """Starlette cancels requests through anyio, again at every await: a store cancelled mid-commit had its
    rollback cancelled too, and the pool logged the abandoned connection (a flaky traceback at SIGTERM in
    tests/e2e). The store now runs shielded in a task of its own, and the runner waits for it."""
    c, _ = hook
    entered, release = asyncio.Event(), asyncio.Event()
    real_store = inbox.store

    async def slow_store(session, updates, *, now):
        entered.set()
        await release.wait()  # the request is cancelled while the store is under way
        return await real_store(session, updates, now=now)

    monkeypatch.setattr(inbox, "store", slow_store)
    request = asyncio.create_task(_post(c, raw_text(7009, 809, "slow")))
    await asyncio.wait_for(entered.wait(), 5)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    release.set()
    await webhook.drain_stores(5)
    async with webhook_ctx.sessionmaker() as s:
        row = await s.get(InboundUpdate, 7009)
    assert row is not None and row.status == inbox.WAITING  # stored whole; Telegram's retry is a duplicate

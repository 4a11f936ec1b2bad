"""Issue 12 F8: request bodies are capped before authentication and before any parsing (413, clear message)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import func, select

from api.app import create_app
from api.limits import BodyLimitMiddleware
from core.settings import Settings
from db.models import ConversationMessage
from tests.api.console.test_handoff import _claimed
from tests.support.console import login, token_of


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size


def test_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.max_body_bytes == 2 * 1024 * 1024 and s.max_upload_bytes == 20 * 1024 * 1024


async def test_declared_length_is_refused_without_calling_the_app() -> None:
    calls = []

    async def inner(scope, receive, send):  # would authenticate, parse, write...
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BodyLimitMiddleware(inner, max_body=100, max_upload=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/api/v1/tickets", content=b"x" * 101, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "limit is" in r.json()["detail"] and calls == []
        r = await c.post("/console/x", files={"f": ("a.bin", b"x" * 500)})  # multipart: the upload limit
        assert r.status_code == 200 and calls == ["/console/x"]
        r = await c.post("/console/x", content=b"x" * 100)
        assert r.status_code == 200


async def test_chunked_body_is_cut_off_even_if_the_app_swallows_the_error() -> None:
    async def inner(scope, receive, send):
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:  # FastAPI answers 400 "error parsing the body"; the client must still see 413
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"bad body"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BodyLimitMiddleware(inner, max_body=1000, max_upload=10_000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/console/guard/check", content=_chunks(5000), headers={"accept-language": "en"})
        assert r.status_code == 413 and "limit is 0.000953674 MB" in r.text
        r = await c.post("/console/guard/check", content=_chunks(5000))  # the console's default: Chinese
        assert r.status_code == 413 and "请求过大：上限为 0.000953674 MB" in r.text
        assert (await c.post("/console/guard/check", content=_chunks(900))).status_code == 200


async def test_app_refuses_big_bodies_before_login(ctx, staff_client) -> None:
    big = json.dumps({"summary": "x" * (2 * 1024 * 1024)}).encode()
    r = await staff_client.post("/api/v1/tickets", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "2 MB" in r.json()["detail"]  # not 401: no work before the cap
    r = await staff_client.post("/api/v1/tickets", content=_chunks(3 * 1024 * 1024, 65536),
                          headers={"content-type": "application/json"})  # chunked: no Content-Length
    assert r.status_code == 413 and "2 MB" in r.json()["detail"]


async def test_streamed_upload_past_the_limit_writes_nothing(ctx, staff_users, make_client) -> None:
    ctx.settings.max_upload_bytes = 64 * 1024
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as agent:
        await login(agent, "agent")
        conv = await _claimed(ctx, agent)
        token = await token_of(agent)
        boundary = "b0undary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in _chunks(200 * 1024, 8192):
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        r = await agent.post(f"/console/conversations/{conv.id}/file", content=body(),
                             headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413 and "0.0625 MB" in r.text
    async with ctx.sessionmaker() as s:
        files = await s.scalar(select(func.count()).select_from(ConversationMessage)
                               .where(ConversationMessage.file_name.is_not(None)))
    assert files == 0


async def test_a_nul_character_in_a_form_or_json_is_refused_before_any_work() -> None:
    """Found by the fuzz test: a staff note of "\\x00" reached PostgreSQL, which refuses NUL in text (500)."""
    calls = []

    async def inner(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BodyLimitMiddleware(inner, max_body=10_000, max_upload=10_000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/console/tickets/X/note", data={"text": "a\x00b"},
                         headers={"accept-language": "en-GB,en;q=0.9"})
        assert r.status_code == 422 and "The text contains a NUL character" in r.text
        r = await c.post("/console/tickets/X/note", data={"text": "a\x00b"}, headers={"accept-language": "zh-CN"})
        assert r.status_code == 422 and "文字中含有 NUL 字符" in r.text
        r = await c.post("/api/v1/tickets", json={"summary": "a\x00b"})
        assert r.status_code == 422 and "NUL" in r.json()["detail"]
        # A marker split across two chunks is still seen.
        parts = [b"text=abc%", b"00def"]

        async def split() -> AsyncIterator[bytes]:
            for p in parts:
                yield p

        r = await c.post("/console/x", content=split(), headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 422
        assert calls == []
        # Binary uploads are not scanned, and ordinary text passes.
        assert (await c.post("/console/x", files={"f": ("a.bin", b"\x00\x01")})).status_code == 200
        assert (await c.post("/console/x", data={"text": "100% fine, 00"})).status_code == 200

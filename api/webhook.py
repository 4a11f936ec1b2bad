"""Telegram webhook receiver (issue 13): authenticate, bound, store in the inbox, then answer 200.

Telegram treats any 2xx as "delivered" and never sends the update again, so the 200 goes out only after
the update is committed to the durable inbox (core/inbox.py). Every refusal changes nothing:

* wrong or missing ``X-Telegram-Bot-Api-Secret-Token`` → 401 (compared in constant time);
* the process is stopping (SIGTERM) or the database is unreachable → 503, and Telegram retries later;
* a body over ``inbox.max_body_bytes`` → 413; not a JSON object with an integer ``update_id`` → 400.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from core import inbox
from core.context import AppContext

log = logging.getLogger(__name__)
SECRET_HEADER = "x-telegram-bot-api-secret-token"


class _TooLarge(Exception):
    pass


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():  # a lying or absent Content-Length is bounded here too
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


# Stores still running after their request was cancelled (see ``_store``); the runner waits for them.
_STORES: set[asyncio.Task[int]] = set()


async def _store(ctx: AppContext, raw: dict) -> int:
    """Store one update in a task of its own, shielded from the request's cancellation.

    Starlette cancels a request through anyio, whose cancellation is delivered again at every await: a
    store cancelled mid-commit (uvicorn's shutdown timeout, Telegram giving up on a slow answer) would see
    even its rollback cancelled and leave the connection to the pool's garbage collector. Shielded, the
    write completes or fails whole; without the 200 Telegram sends the update again, and the inbox ignores
    the duplicate ``update_id``.
    """
    async def store() -> int:
        async with ctx.sessionmaker() as session:
            return await inbox.store(session, [raw], now=ctx.clock.now())

    task = asyncio.create_task(store(), name="webhook-store")
    _STORES.add(task)
    task.add_done_callback(_settled)
    return await asyncio.shield(task)


def _settled(task: asyncio.Task[int]) -> None:
    _STORES.discard(task)
    # Retrieved here so a failure whose request has gone is not reported as "never retrieved"; the request,
    # if still there, logs it and answers 503 (Telegram retries either way).
    if not task.cancelled() and task.exception() is not None:
        log.debug("webhook store failed: %s", type(task.exception()).__name__)


async def drain_stores(timeout: float) -> None:
    """Wait (up to ``timeout`` seconds) for stores whose request has gone: called before the engine closes."""
    if _STORES:
        await asyncio.wait(list(_STORES), timeout=timeout)


def _refuse(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"ok": False, "detail": detail}, status_code=status, headers=headers or None)


def webhook_router(ctx: AppContext) -> APIRouter:
    """The route on the path of ``TELEGRAM_WEBHOOK_URL`` (only mounted in webhook mode)."""
    settings = ctx.settings
    path = settings.webhook_path()
    assert path is not None and settings.telegram_webhook_secret is not None
    expected = settings.telegram_webhook_secret.get_secret_value().encode()
    router = APIRouter(include_in_schema=False)

    @router.post(path)
    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return _refuse(401, "wrong secret token")
        if request.app.state.stopping.is_set():
            return _refuse(503, "stopping; retry later", **{"Retry-After": "5"})
        try:
            body = await _read_bounded(request, settings.inbox.max_body_bytes)
        except _TooLarge:
            return _refuse(413, "update too large")
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "body is not JSON")
        if not inbox.valid_update(raw):
            return _refuse(400, "not a Telegram update (no integer update_id)")
        try:
            await _store(ctx, raw)
        except (SQLAlchemyError, OSError) as e:
            log.error("webhook: could not store update (%s); Telegram will retry", type(e).__name__)
            return _refuse(503, "storage unavailable; retry later", **{"Retry-After": "5"})
        return Response(status_code=200)

    return router

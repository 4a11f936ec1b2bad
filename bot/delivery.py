"""Getting Telegram updates into the durable inbox and from it into the Dispatcher (issue 13).

* ``PollingReceiver`` — long polling that *stores, then advances the offset*: Telegram forgets an update
  only when the next ``getUpdates`` names a higher offset, and we ask for that only after the batch is
  committed to the inbox. (The webhook receiver is api/webhook.py: it answers 200 only after the commit.)
* ``InboxWorker`` — claims stored updates (core/inbox.py), feeds them to the Dispatcher, marks them done,
  retries failures with backoff and parks the ones that keep failing. Its leases are renewed while it
  works, so a slow handler is not taken over, and a killed process's rows are taken over after the lease.
* ``set_webhook`` — the start-up call of webhook mode.

The raw JSON Telegram sent is what is stored and what the Dispatcher gets, so nothing is lost in a
round trip through library types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher

from core import inbox
from core.context import AppContext

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates open


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class InboxWorker:
    """Handles the inbox's updates with bounded concurrency: one chat in order, many chats at once."""

    def __init__(self, ctx: AppContext, bot: Bot, dp: Dispatcher, *, worker: str | None = None) -> None:
        self.ctx, self.bot, self.dp = ctx, bot, dp
        self.settings = ctx.settings.inbox
        self.worker = worker or worker_id()
        self.in_hand: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._renewer: asyncio.Task[None] | None = None
        self.handled = 0

    async def run(self) -> None:
        # As aiogram's start_polling does: routers load what they need (ask.py indexes the knowledge base;
        # a broken topic file stops the process here, naming the file).
        startup = {"dispatcher": self.dp, "bots": [self.bot], **self.dp.workflow_data}
        await self.dp.emit_startup(bot=self.bot, **startup)
        unregister = inbox.on_store_wake(self._wake.set)
        self._renewer = asyncio.create_task(self._renew_leases(), name="inbox-renew")
        delay = self.settings.poll_interval
        try:
            while not self._stopping:
                self._wake.clear()
                free = self.settings.concurrency - len(self.in_hand)
                if free > 0:
                    try:
                        async with self.ctx.sessionmaker() as session:
                            rows = await inbox.claim(session, worker=self.worker, now=self.ctx.clock.now(),
                                                     limit=free, lease_seconds=self.settings.lease_seconds)
                        delay = self.settings.poll_interval
                    except Exception as e:  # database unreachable: keep trying, never die
                        log.warning("inbox claim failed (%s); retrying", type(e).__name__)
                        rows, delay = [], min(delay * 2, 10.0)
                    for row in rows:
                        task = asyncio.create_task(self._handle(row), name=f"update-{row.update_id}")
                        self.in_hand[row.update_id] = task
                    if rows and len(rows) == free:
                        continue  # more may be due: look again as soon as a slot frees
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            unregister()
            if not self._stopping:  # on a stop the updates in hand keep their leases until ``stop`` is done
                self._renewer.cancel()
            with contextlib.suppress(Exception):
                await self.dp.emit_shutdown(bot=self.bot, **startup)

    async def _handle(self, row: inbox.Claimed) -> None:
        try:
            await self.dp.feed_raw_update(self.bot, row.payload, resident_rev=row.resident_rev)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # The error text stays in the database for staff; the log gets no message content.
            log.warning("update %s failed on attempt %s: %s", row.update_id, row.attempts, type(e).__name__)
            error = f"{type(e).__name__}: {e}"
            await self._settle(row, "failed", lambda r: self._failed(r, error))
        else:
            await self._settle(row, "done", self._done)
            self.handled += 1
        finally:
            self.in_hand.pop(row.update_id, None)
            self._wake.set()  # a slot is free, and this chat's next update may now be due

    async def _settle(self, row: inbox.Claimed, what: str, write) -> None:
        """Record the outcome, retrying a database hiccup (e.g. PostgreSQL out of connections): if it cannot be
        recorded the lease runs out and the update is handled again — at least once, never lost."""
        for attempt in range(5):
            try:
                await write(row)
                return
            except Exception as e:
                log.warning("update %s: marking %s failed (%s), attempt %s", row.update_id, what,
                            type(e).__name__, attempt + 1)
                await asyncio.sleep(0.2 * 2 ** attempt)

    async def _done(self, row: inbox.Claimed) -> None:
        async with self.ctx.sessionmaker() as session:
            await inbox.mark_done(session, row.update_id, worker=self.worker, now=self.ctx.clock.now())

    async def _failed(self, row: inbox.Claimed, error: str) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.sessionmaker() as session:
            parked = await inbox.mark_failed(
                session, row.update_id, worker=self.worker, now=now, error=error, attempts=row.attempts,
                max_attempts=self.settings.max_attempts, retry_base_seconds=self.settings.retry_base_seconds)
            if parked:
                log.error("update %s parked after %s attempts; see /console/inbox", row.update_id, row.attempts)
                await inbox.tell_resident_parked(session, resident_id=row.chat_key, update_id=row.update_id,
                                                 translator=self.ctx.translator, now=now)
            await session.commit()

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            with contextlib.suppress(Exception):
                async with self.ctx.sessionmaker() as session:
                    await inbox.renew(session, worker=self.worker, update_ids=list(self.in_hand),
                                      now=self.ctx.clock.now(), lease_seconds=self.settings.lease_seconds)

    async def stop(self, grace: float | None = None) -> None:
        """Take no new updates; give the ones in hand ``grace`` seconds, then hand the rest back."""
        self._stopping = True
        self._wake.set()
        grace = self.settings.grace_seconds if grace is None else grace
        pending = list(self.in_hand.values())
        if pending:
            await asyncio.wait(pending, timeout=grace)
        unfinished = [uid for uid, t in list(self.in_hand.items()) if not t.done()]
        for uid in unfinished:
            self.in_hand[uid].cancel()
        if unfinished:
            log.warning("stop: %s update(s) not finished within %.0f s go back to the inbox", len(unfinished), grace)
            with contextlib.suppress(Exception):
                async with self.ctx.sessionmaker() as session:
                    await inbox.release(session, unfinished, worker=self.worker)
                    await session.commit()
        if self._renewer is not None:  # only now: a lease lapsing during the grace would let another take it
            self._renewer.cancel()


class PollingReceiver:
    """getUpdates → inbox, confirming a batch to Telegram (the next offset) only after it is stored."""

    def __init__(self, ctx: AppContext, bot: Bot, allowed_updates: list[str]) -> None:
        self.ctx, self.bot, self.allowed_updates = ctx, bot, allowed_updates
        self.offset: int | None = None

    async def _get_updates(self, http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        # A raw request (not aiogram's types) so the inbox keeps exactly the JSON Telegram sent.
        url = self.bot.session.api.api_url(token=self.bot.token, method="getUpdates")
        params: dict[str, Any] = {"timeout": POLL_TIMEOUT, "allowed_updates": self.allowed_updates}
        if self.offset is not None:
            params["offset"] = self.offset
        async with http.post(url, json=params, timeout=aiohttp.ClientTimeout(total=POLL_TIMEOUT + 15)) as r:
            body = await r.json(content_type=None)
        if not isinstance(body, dict) or not body.get("ok"):
            description = body.get("description") if isinstance(body, dict) else None
            raise RuntimeError(f"getUpdates refused: {description or r.status}")
        return [u for u in body.get("result") or [] if inbox.valid_update(u)]

    async def run(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(Exception):  # polling after webhook mode: switch Telegram back
            await self.bot.delete_webhook(drop_pending_updates=False)
        delay = 1.0
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                try:
                    updates = await self._get_updates(http)
                    if updates:
                        async with self.ctx.sessionmaker() as session:
                            await inbox.store(session, updates, now=self.ctx.clock.now())
                        self.offset = max(u["update_id"] for u in updates) + 1  # only now: stored
                    delay = 1.0
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # network or database trouble: the offset stays, nothing is lost
                    log.warning("polling: %s; retrying in %.0f s", type(e).__name__, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 30.0)


async def set_webhook(bot: Bot, dp: Dispatcher, ctx: AppContext) -> None:
    settings = ctx.settings
    assert settings.telegram_webhook_url and settings.telegram_webhook_secret
    await bot.set_webhook(settings.telegram_webhook_url,
                          secret_token=settings.telegram_webhook_secret.get_secret_value(),
                          allowed_updates=dp.resolve_used_update_types(), drop_pending_updates=False)

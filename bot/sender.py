"""The outbox sender: the only code that pushes unsolicited messages to Telegram.

Limits, in the order a message meets them:

* a time slot for the whole batch from the shared ``send_gate`` row (``core.outbox.reserve_slot``), so
  several sender processes together keep to one global rate and all wait out a 429 seen by any of them;
* an even-pace limiter (``RateLimiter``) shared by every sender of this process (``shared_limiter``) at
  ``SenderSettings.rate_per_second`` (default 25 msg/s; ``paid_broadcast`` switches to the paid rate and
  sets ``allow_paid_broadcast``), paused for ``retry_after`` on any 429;
* at most one message per ``per_chat_interval`` (1 s) to one chat.

Errors: 429 → the row waits ``retry_after`` (not counted as an attempt); network / 5xx → retried with
exponential backoff and jitter; 403 (blocked, deactivated) → the resident is marked blocked and their
pending rows are skipped; other 4xx → failed, with the error kept on the row. The duplicate window after a
crash is documented in ``core.outbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, methods
from aiogram.exceptions import (
    RestartingTelegram,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from core import broadcasts, outbox
from core.context import AppContext

log = logging.getLogger(__name__)

METHODS: dict[str, type[methods.TelegramMethod[Any]]] = {
    "sendMessage": methods.SendMessage,
    "sendPhoto": methods.SendPhoto,
    "sendDocument": methods.SendDocument,
    "sendLocation": methods.SendLocation,
}
MAX_BACKOFF = 300.0
LIVE_EVERY = 1.0  # seconds between two live progress events of one broadcast


class RateLimiter:
    """Even pacing at ``rate`` per second (a virtual schedule, GCRA-style); ``pause`` holds every acquirer
    until a 429's ``retry_after`` has passed.

    Each grant is booked at ``next_at`` and moves it on by ``1 / rate``. A grant that woke late (event loop
    busy, sleep overshoot) does not push the schedule back, so the lateness is made up by the next grant
    instead of being lost — without that, a loaded machine loses ~15 % of the rate to timer overshoot. The
    schedule never runs more than ``burst`` intervals behind the present (default: a fifth of a second's
    worth), so a short stall is made up and a long one forgiven, not repaid in a burst. On top of that, no
    one-second window ever holds more than ``rate`` grants (a sliding window), which leaves Telegram's own
    window (counted on arrival) room for network jitter.
    """

    def __init__(self, rate: float, burst: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.burst = burst if burst is not None else max(1.0, rate / 5)
        self._clock = clock
        self._sleep = sleep
        self.next_at = clock()
        self.paused_until = 0.0
        self.window = max(1, math.floor(rate))
        self._granted: deque[float] = deque()
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self.paused_until:
                    await self._sleep(self.paused_until - now)
                    self.next_at = max(self.next_at, self.paused_until)
                    continue
                # Lateness of up to ``burst`` intervals is made up; more is forgiven, not repaid.
                self.next_at = max(self.next_at, now - self.burst * self.interval)
                while self._granted and now - self._granted[0] >= 1.0:
                    self._granted.popleft()
                if len(self._granted) >= self.window:
                    await self._sleep(self._granted[0] + 1.0 - now)
                    continue
                if self.next_at <= now:
                    self.next_at += self.interval
                    self._granted.append(now)
                    return
                await self._sleep(self.next_at - now)


def send_rate(ctx: AppContext) -> float:
    cfg = ctx.settings.sender
    return cfg.paid_rate_per_second if cfg.paid_broadcast else cfg.rate_per_second


def shared_limiter(ctx: AppContext) -> RateLimiter:
    """The one rate limiter of this process: every Sender built on ``ctx`` uses it, so a 429 pauses them all."""
    limiter = ctx.extras.get("sender.limiter")
    if limiter is None:
        limiter = ctx.extras["sender.limiter"] = RateLimiter(send_rate(ctx))
    return limiter


def _wall() -> datetime:
    # Pacing is about physical time on every host, never the injectable business clock.
    return datetime.now(UTC)


@dataclass(frozen=True)
class Batch:
    rows: list[outbox.Claimed]
    claimed_at: float  # monotonic: the lease runs from here


class Sender:
    def __init__(self, ctx: AppContext, bot: Bot, *, worker_id: str | None = None, lease_seconds: float = 60.0,
                 shared_gate: bool = True) -> None:
        self.ctx = ctx
        self.bot = bot
        cfg = ctx.settings.sender
        self.rate = send_rate(ctx)
        self.limiter = shared_limiter(ctx)
        self.per_chat = cfg.per_chat_interval
        self.batch_size = cfg.batch_size
        self.max_attempts = cfg.max_attempts
        self.paid = cfg.paid_broadcast
        self.lease_seconds = lease_seconds
        # Never send a row whose lease has less than this left: another sender may take it over.
        self.lease_margin = min(10.0, lease_seconds / 4)
        self.shared_gate = shared_gate
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._last_chat_send: dict[int, float] = {}
        self._last_live: dict[int, float] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # set by a commit that enqueued rows in this process, or by stop()
        self.stats = {"sent": 0, "retry_after": 0, "retried": 0, "blocked": 0, "failed": 0, "released": 0}

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self, idle_sleep: float = 0.5) -> None:
        """Deliver until stopped, as one continuous stream: the next batch is claimed while the current one
        is being sent, and its rows start as soon as rows of the current one are done. At most
        ``batch_size`` rows are in flight (claimed for sending and not yet marked) at any moment, so a
        crash leaves at most one batch sent-but-unmarked; a prefetched batch was never sent, and after a
        crash only waits for its lease."""
        log.info("sender %s started at %.1f msg/s", self.worker_id, self.rate)
        with contextlib.suppress(Exception):
            async with self.ctx.sessionmaker() as session:
                if n := await outbox.release_worker(session, self.worker_id):
                    log.warning("sender %s: took back %d rows leased before a restart", self.worker_id, n)
        inflight = asyncio.Semaphore(self.batch_size)
        running: set[asyncio.Task[None]] = set()
        unregister = outbox.on_commit_wake(self._wake.set)
        try:
            await self._loop(idle_sleep, inflight, running)
        finally:
            unregister()

    async def _loop(self, idle_sleep: float, inflight: asyncio.Semaphore, running: set[asyncio.Task[None]]) -> None:
        batch: Batch | None = None
        while not self._stop.is_set():
            try:
                if batch is None:
                    self._wake.clear()  # cleared before claiming, so a commit during the claim is not missed
                    batch = await self._claim()
                if batch is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), idle_sleep)
                    continue
                prefetch = asyncio.create_task(self._claim())
                try:
                    await self._stream(batch, inflight, running)
                finally:
                    batch = await prefetch
            except Exception:  # keep the sender alive; the rows stay pending and are retried
                log.exception("sender: batch failed")
                await asyncio.sleep(idle_sleep)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if batch is not None:  # stopping with a prefetched batch: hand it back at once
            with contextlib.suppress(Exception):
                async with self.ctx.sessionmaker() as session:
                    await outbox.release_worker(session, self.worker_id)

    async def _stream(self, batch: Batch, inflight: asyncio.Semaphore, running: set[asyncio.Task[None]]) -> None:
        """Start the batch's deliveries as in-flight slots free up; book-keep the batch when it is done."""
        lease_end = batch.claimed_at + self.lease_seconds - self.lease_margin
        await self._wait_for_slot(len(batch.rows))
        tasks = []
        for row in batch.rows:
            await inflight.acquire()
            task = asyncio.create_task(self._deliver_then_release(row, lease_end, inflight))
            running.add(task)
            task.add_done_callback(running.discard)
            tasks.append(task)
        done = asyncio.create_task(self._after_batch(batch, tasks))
        running.add(done)
        done.add_done_callback(running.discard)

    async def _deliver_then_release(self, row: outbox.Claimed, lease_end: float, inflight: asyncio.Semaphore) -> None:
        try:
            await self._deliver(row, lease_end)
        finally:
            inflight.release()

    async def _after_batch(self, batch: Batch, tasks: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        broadcast_ids = {row.broadcast_id for row in batch.rows if row.broadcast_id is not None}
        if broadcast_ids:
            with contextlib.suppress(Exception):  # bookkeeping only: the next batch repeats it
                async with self.ctx.sessionmaker() as session:
                    await broadcasts.finish_done(session, broadcast_ids, now=self.ctx.clock.now())
                await self._publish(broadcast_ids)
        self._forget_old_chats()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were handled."""
        batch = await self._claim()
        if batch:
            await self._deliver_batch(batch)
        return len(batch.rows) if batch else 0

    async def _claim(self) -> Batch | None:
        claimed_at = time.monotonic()
        async with self.ctx.sessionmaker() as session:
            rows = await outbox.claim_due(session, now=self.ctx.clock.now(), worker=self.worker_id,
                                          limit=self.batch_size, lease_seconds=self.lease_seconds)
        return Batch(rows, claimed_at) if rows else None

    async def _deliver_batch(self, batch: Batch) -> None:
        lease_end = batch.claimed_at + self.lease_seconds - self.lease_margin
        await self._wait_for_slot(len(batch.rows))
        await self._after_batch(batch, [asyncio.create_task(self._deliver(row, lease_end)) for row in batch.rows])

    async def _wait_for_slot(self, count: int) -> None:
        if not self.shared_gate:
            return
        try:
            async with self.ctx.sessionmaker() as session:
                start = await outbox.reserve_slot(session, now=_wall(), count=count, rate=self.rate)
        except Exception:  # pacing falls back to this process's own limiter
            log.warning("sender: send gate unavailable", exc_info=True)
            return
        delay = (start - _wall()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _deliver(self, row: outbox.Claimed, lease_end: float) -> None:
        # Per-chat spacing: Telegram allows about one message per second to one chat.
        wait = self._last_chat_send.get(row.resident_id, 0) + self.per_chat - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_chat_send[row.resident_id] = time.monotonic()
        await self.limiter.acquire()
        if time.monotonic() > lease_end:  # e.g. a long 429 pause: let the row go rather than risk a double send
            async with self.ctx.sessionmaker() as session:
                await outbox.release(session, row.id)
                await session.commit()
            self.stats["released"] += 1
            return
        try:
            await self._send_and_mark(row)
        except Exception:  # the mark failed (database down): the lease expires and the row is sent again
            log.exception("sender: could not record outbox row %s", row.id)

    async def _send_and_mark(self, row: outbox.Claimed) -> None:
        method_cls = METHODS.get(row.method)
        try:
            if method_cls is None:
                raise ValueError(f"unknown method {row.method}")
            params = dict(row.payload)
            if self.paid:
                params["allow_paid_broadcast"] = True
            call = method_cls(chat_id=row.resident_id, **params)
        except Exception as e:  # a malformed payload will never succeed
            async with self.ctx.sessionmaker() as session:
                await outbox.mark_failed(session, row.id, error=f"invalid payload: {type(e).__name__}: {e}")
                await session.commit()
            self.stats["failed"] += 1
            return
        try:
            result = await self.bot(call)
        except TelegramRetryAfter as e:
            self.stats["retry_after"] += 1
            self.limiter.pause(e.retry_after)
            async with self.ctx.sessionmaker() as session:
                now = self.ctx.clock.now()
                await outbox.mark_retry(session, row.id, not_before=now + timedelta(seconds=e.retry_after),
                                        error="429", max_attempts=self.max_attempts, count_attempt=False)
                if self.shared_gate:
                    await outbox.pause_gate(session, until=_wall() + timedelta(seconds=e.retry_after))
                await session.commit()
            return
        except TelegramForbiddenError as e:
            self.stats["blocked"] += 1
            async with self.ctx.sessionmaker() as session:
                await outbox.mark_blocked(session, row.id, row.resident_id, error=e.message)
                await session.commit()
            return
        except TelegramUnauthorizedError:
            # A bad token is our configuration, not the message: keep the row, stop hammering the API.
            log.error("sender: Bot API rejected the token; pausing 60 s")
            self.limiter.pause(60)
            async with self.ctx.sessionmaker() as session:
                await outbox.release(session, row.id)
                await session.commit()
            return
        except (TelegramNetworkError, TelegramServerError, RestartingTelegram) as e:
            await self._retry(row, type(e).__name__)
            return
        except TelegramAPIError as e:
            if 400 <= getattr(e, "status_code", 0) < 500 or type(e).__name__ in (
                "TelegramBadRequest", "TelegramNotFound", "TelegramEntityTooLarge", "TelegramMigrateToChat"
            ):
                self.stats["failed"] += 1
                async with self.ctx.sessionmaker() as session:
                    await outbox.mark_failed(session, row.id, error=f"{type(e).__name__}: {e.message}")
                    await session.commit()
                return
            await self._retry(row, f"{type(e).__name__}: {e.message}")
            return
        except Exception as e:  # anything unexpected from the HTTP layer: treat like a network error
            await self._retry(row, type(e).__name__)
            return
        self.stats["sent"] += 1
        async with self.ctx.sessionmaker() as session:
            await outbox.mark_sent(session, row.id, now=self.ctx.clock.now(),
                                   message_id=getattr(result, "message_id", None))
            await session.commit()

    async def _retry(self, row: outbox.Claimed, error: str) -> None:
        self.stats["retried"] += 1
        backoff = min(MAX_BACKOFF, 2.0 ** row.attempts) * random.uniform(0.75, 1.25)
        async with self.ctx.sessionmaker() as session:
            await outbox.mark_retry(session, row.id, not_before=self.ctx.clock.now() + timedelta(seconds=backoff),
                                    error=error, max_attempts=self.max_attempts)
            await session.commit()

    def _forget_old_chats(self) -> None:
        if len(self._last_chat_send) < 10_000:
            return
        horizon = time.monotonic() - self.per_chat
        self._last_chat_send = {k: v for k, v in self._last_chat_send.items() if v > horizon}

    async def _publish(self, broadcast_ids: set[int]) -> None:
        """Tell open console pages that a broadcast moved (they re-read its counts)."""
        now = time.monotonic()
        for bid in broadcast_ids:
            if now - self._last_live.get(bid, 0) < LIVE_EVERY:
                continue
            self._last_live[bid] = now
            with contextlib.suppress(Exception):
                await self.ctx.live.publish("broadcast", id=bid)

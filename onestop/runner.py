"""Start the parts of Onestop: console/API (uvicorn), bot (long polling), outbox sender, scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn
from aiogram import Bot
from fastapi import FastAPI

from api.app import begin_drain, create_app
from api.webhook import drain_stores
from bot.app import build_bot, build_dispatcher, set_commands
from bot.delivery import InboxWorker, PollingReceiver, set_webhook
from bot.sender import Sender
from core import staff
from core.context import AppContext
from core.keys import reveal
from core.scheduler import run_scheduler
from core.settings import Settings
from db.enums import StaffRole

log = logging.getLogger(__name__)


async def ensure_admin(ctx: AppContext) -> None:
    """First run: create an admin with a random password, printed once. There are no default passwords."""
    async with ctx.sessionmaker() as session:
        if await staff.count_staff(session):
            return
        password = staff.new_password()
        await staff.create_staff(session, username="admin", display_name="Administrator", role=StaffRole.admin,
                                 password=password, now=ctx.clock.now())
        await session.commit()
    # F9: to the terminal only (or a 0600 file when stdout is not a TTY), never through logging.
    reveal(["", f"  First run: created staff user 'admin' with password: {password}", "  (shown once; keep it safe)",
            ""], ctx.settings)


async def run(settings: Settings, parts: set[str]) -> None:
    """Run the requested parts in one event loop until SIGINT/SIGTERM."""
    ctx = AppContext.create(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[object]] = []
    server: uvicorn.Server | None = None
    app: FastAPI | None = None
    helpers: list[asyncio.Task[object]] = []
    if "api" in parts:
        await ensure_admin(ctx)
        app = create_app(ctx)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on",
                                timeout_graceful_shutdown=3)  # long polls must not hold up a stop
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="api"))
        if settings.sandbox and not settings.serve_sandbox():  # issue 12 F7
            print(f"\n  No TELEGRAM_BOT_TOKEN and {settings.host} is not a loopback address: the sandbox is off "
                  "(set ONESTOP_SANDBOX=1 to serve it there on purpose)\n", flush=True)
        elif settings.sandbox:
            print(f"\n  Sandbox (offline Telegram): http://{settings.host}:{settings.port}/sandbox\n"
                  f"  Staff console:              http://{settings.host}:{settings.port}/\n", flush=True)

    webhook_api = "api" in parts and settings.webhook
    # The console also uses the Bot: it downloads residents' files (api never imports bot).
    bot = build_bot(settings) if parts & {"api", "bot", "worker"} else None
    if bot is not None:
        ctx.extras["bot"] = bot
    dp = build_dispatcher(ctx) if "bot" in parts or webhook_api else None
    sender: Sender | None = None
    worker: InboxWorker | None = None
    if "bot" in parts and bot is not None and dp is not None:
        # Issue 13: updates go through the durable inbox. Webhook mode: the API process stores them
        # (api/webhook.py); polling mode: our own loop stores a batch before confirming it to Telegram.

        worker = InboxWorker(ctx, bot, dp)
        tasks.append(asyncio.create_task(worker.run(), name="inbox"))
        if not settings.webhook:
            receiver = PollingReceiver(ctx, bot, dp.resolve_used_update_types())

            async def poll() -> None:
                await _api_started(server)  # in sandbox mode the Bot API is served by ourselves
                await _set_commands(bot)
                await receiver.run(stop)

            tasks.append(asyncio.create_task(poll(), name="bot"))
    if webhook_api and bot is not None and dp is not None:

        async def register_webhook() -> None:
            await _api_started(server)
            await _set_commands(bot)
            delay = 1.0
            while not stop.is_set():  # Telegram unreachable at start: keep trying, keep serving
                try:
                    await set_webhook(bot, dp, ctx)
                    log.info("webhook registered")
                    return
                except Exception as e:
                    log.warning("setWebhook failed (%s); retrying in %.0f s", type(e).__name__, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 60.0)

        # Not in ``tasks``: it ends once Telegram has the URL, and that must not stop the process.
        helpers.append(asyncio.create_task(register_webhook(), name="webhook"))
    if "worker" in parts and bot is not None:
        sender = Sender(ctx, bot)
        tasks.append(asyncio.create_task(sender.run(), name="sender"))
        tasks.append(asyncio.create_task(run_scheduler(ctx, stop=stop), name="scheduler"))

    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for t in done:
        if t is not waiter and not t.cancelled() and t.exception():
            log.error("%s stopped: %r", t.get_name(), t.exception())
    # Graceful stop (issue 13): refuse new updates first (the webhook answers 503, so Telegram retries),
    # stop polling, finish the updates in hand within the grace period, then stop the rest.
    stop.set()
    if app is not None:
        begin_drain(app)
    for t in [*tasks, *helpers]:
        if t.get_name() in ("bot", "webhook"):  # don't wait for the current long poll to time out
            t.cancel()
    if worker is not None:
        await worker.stop(settings.inbox.grace_seconds)
    if sender is not None:
        sender.stop()
    if server is not None:
        server.should_exit = True
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    await drain_stores(5)  # a store whose request was cancelled still finishes before the engine closes
    if bot is not None:
        await bot.session.close()
    await ctx.close()
    log.info("stopped")


async def _api_started(server: uvicorn.Server | None) -> None:
    if server is not None:
        while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.05)


async def _set_commands(bot: Bot) -> None:
    with contextlib.suppress(Exception):
        await set_commands(bot)

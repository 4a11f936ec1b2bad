"""Start the parts of Onestop: console/API (uvicorn), bot (long polling), outbox sender, scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from core.context import AppContext
from core.settings import Settings

log = logging.getLogger(__name__)


async def ensure_admin(ctx: AppContext) -> None:
    """First run: create an admin with a random password, printed once. There are no default passwords."""
    from core import staff
    from core.enums import StaffRole

    async with ctx.sessionmaker() as session:
        if await staff.count_staff(session):
            return
        password = staff.new_password()
        await staff.create_staff(session, username="admin", display_name="Administrator", role=StaffRole.admin,
                                 password=password, now=ctx.clock.now())
        await session.commit()
    print(f"\n  First run: created staff user 'admin' with password: {password}\n  (shown once; keep it safe)\n",
          flush=True)


async def run(settings: Settings, parts: set[str]) -> None:
    """Run the requested parts in one event loop until SIGINT/SIGTERM."""
    import uvicorn

    ctx = AppContext.create(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[object]] = []
    server = None
    if "api" in parts:
        from api.app import create_app

        await ensure_admin(ctx)
        app = create_app(ctx)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on",
                                timeout_graceful_shutdown=3)  # long polls must not hold up a stop
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own the signals
        tasks.append(asyncio.create_task(server.serve(), name="api"))
        if settings.sandbox and not settings.serve_sandbox():  # issue 12 F7
            print(f"\n  No TELEGRAM_BOT_TOKEN and {settings.host} is not a loopback address: the sandbox is off "
                  "(set ONESTOP_SANDBOX=1 to serve it there on purpose)\n", flush=True)
        elif settings.sandbox:
            print(f"\n  Sandbox (offline Telegram): http://{settings.host}:{settings.port}/sandbox\n"
                  f"  Staff console:              http://{settings.host}:{settings.port}/\n", flush=True)

    bot = dp = sender = None
    if parts & {"bot", "worker"}:
        from bot.app import build_bot

        bot = build_bot(settings)
    if "bot" in parts:
        from bot.app import build_dispatcher, set_commands

        dp = build_dispatcher(ctx)

        async def poll() -> None:
            if server is not None:  # in sandbox mode the Bot API is served by ourselves
                while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
                    await asyncio.sleep(0.05)
            with contextlib.suppress(Exception):
                await set_commands(bot)
            delay = 1.0
            while not stop.is_set():
                # aiogram retries failed polls itself, but not its start-up call (getMe): a network error
                # there (the API not reachable yet, a reset connection) must not stop the whole process.
                try:
                    await dp.start_polling(bot, handle_signals=False, close_bot_session=False)
                    return
                except Exception as e:
                    log.warning("bot polling stopped (%r); restarting in %.0f s", e, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 30.0)

        tasks.append(asyncio.create_task(poll(), name="bot"))
    if "worker" in parts:
        from bot.sender import Sender
        from core.scheduler import run_scheduler

        sender = Sender(ctx, bot)
        ctx.extras["bot"] = bot
        tasks.append(asyncio.create_task(sender.run(), name="sender"))
        tasks.append(asyncio.create_task(run_scheduler(ctx, stop=stop), name="scheduler"))

    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for t in done:
        if t is not waiter and t.exception():
            log.error("%s stopped: %r", t.get_name(), t.exception())
    stop.set()
    for t in tasks:
        if t.get_name() == "bot":  # don't wait for the current long poll to time out
            t.cancel()
    if sender is not None:
        sender.stop()
    if server is not None:
        server.should_exit = True
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    if bot is not None:
        await bot.session.close()
    await ctx.close()

"""The whole update path (issue 13): webhook HTTP → inbox → Dispatcher → database → reply.

    .venv/bin/python -m bench.updates.run --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \
        --redis redis://127.0.0.1:6379/4 [--conversations 120] [--concurrency 32] [--procs 1,2,4]

``procs``: real ``onestop run`` processes in webhook mode on a fresh PostgreSQL database and Redis, with a
stand-in Telegram (tests/e2e/standin.py) taking their Bot API calls. A driver plays Telegram's webhook
delivery: each resident runs the complete fault-report conversation (9 updates, one ticket), POSTing each
update with the secret to the processes in turn (a load balancer) and waiting for the bot's answer
before the next. Latency is webhook POST → the first Bot API call answering it reaching Telegram (the
reply leaving the process; handler replies go straight out, outbox rows via the sender). The baseline is a
bare aiogram webhook bot (aiohttp ``SimpleRequestHandler``, echo + button answer) driven the same way in
the same run.

``statements``: SQL statements per update, in-process on SQLite, for the whole path (webhook route →
inbox → worker → Dispatcher) and for the Dispatcher alone, so the inbox's own cost is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from api.app import create_app  # noqa: E402
from bench.requests.run import SCRIPT, callback_update, fresh_pg, make_bot, make_ctx, text_update  # noqa: E402
from bot.app import build_dispatcher  # noqa: E402
from bot.delivery import InboxWorker  # noqa: E402
from core.demo import load_demo  # noqa: E402
from db.models import InboundUpdate, Ticket  # noqa: E402
from db.session import make_engine, make_sessionmaker  # noqa: E402
from tests.e2e.conftest import free_port  # noqa: E402
from tests.e2e.standin import TOKEN, StandInTelegram  # noqa: E402

SECRET = "bench-Webhook-secret-0123456789"
HOOK = "/tg/hook"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


class Answers:
    """Wakes the driver when the bot answers a chat (or a button tap); keeps each chat's latest buttons."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[int | str, asyncio.Event] = {}
        self.buttons: dict[int, list[str]] = {}
        self.no_submit_button = 0  # conversations whose summary (Submit button) never reached the driver
        self.retries = 0  # webhook POSTs that had to be repeated (not 2xx or connection error)

    def __call__(self, chat: int | None, callback_id: str, buttons: list[str] | None) -> None:
        self.loop.call_soon_threadsafe(self._set, chat, callback_id, buttons)

    def _set(self, chat: int | None, callback_id: str, buttons: list[str] | None) -> None:
        if chat is not None and buttons:
            self.buttons[chat] = buttons
        for key in (chat, callback_id):
            ev = self.waiting.get(key) if key else None
            if ev is not None:
                ev.set()


def _update(uid: int, kind: str, value: str, answers: Answers) -> dict[str, Any]:
    if kind == "text":
        return text_update(uid, value)
    if kind == "cb":
        return callback_update(uid, value)
    data = next((d for d in answers.buttons.get(uid, []) if d.startswith("flt:ok:")), None)
    if data is None:
        answers.no_submit_button += 1
    return callback_update(uid, data or "flt:ok:missing")


async def drive(backends: list[str], answers: Answers, conversations: int, concurrency: int,
                first_uid: int, *, product: bool = True) -> tuple[float, list[float]]:
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    turn = iter(range(10**9))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(uid: int) -> None:
            async with sem:
                for kind, value in SCRIPT:
                    if kind == "submit" and product:  # the summary with its Submit button may follow the first answer
                        for _ in range(3000):
                            if any(d.startswith("flt:ok:") for d in answers.buttons.get(uid, [])):
                                break
                            await asyncio.sleep(0.01)
                    raw = _update(uid, kind, value, answers)
                    done = asyncio.Event()
                    answers.waiting[uid] = done
                    if "callback_query" in raw:
                        answers.waiting[raw["callback_query"]["id"]] = done
                    t0 = time.perf_counter()
                    while True:  # like Telegram: retry until a 2xx (the next backend, after a pause)
                        with contextlib.suppress(httpx.TransportError):
                            r = await http.post(backends[next(turn) % len(backends)] + HOOK,
                                                content=json.dumps(raw), headers=headers)
                            if r.status_code == 200:
                                break
                        answers.retries += 1
                        await asyncio.sleep(0.2)
                    await asyncio.wait_for(done.wait(), 60)
                    latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(first_uid + i) for i in range(conversations)))
        return time.perf_counter() - t0, latencies


def _wait_healthy(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 400  # four processes importing at once on a loaded 2-core machine: minutes
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        if proc.poll() is not None:
            raise SystemExit(f"process exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise SystemExit(f"process not up:\n{log.read_text()[-3000:]}")


def _env(standin: StandInTelegram, port: int, url: str, redis: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "ONESTOP_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATABASE_URL=url, REDIS_URL=redis, ONESTOP_PORT=str(port), ONESTOP_SECRET_KEY="bench-secret-key",
               TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=standin.base, PYTHONUNBUFFERED="1",
               TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}{HOOK}", TELEGRAM_WEBHOOK_SECRET=SECRET,
               ONESTOP_FLOOD_BURST="1000000", ONESTOP_INBOX__CONCURRENCY="16")
    return env


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as fh:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


async def bench_onestop(pg: str, redis: str, standin: StandInTelegram, answers: Answers, n_procs: int,
                        conversations: int, concurrency: int, tmp: Path) -> dict[str, Any]:
    url, drop = await fresh_pg(pg)
    ports = [free_port() for _ in range(n_procs)]
    envs = [_env(standin, p, url, redis) for p in ports]
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "core.cli", "migrate"], cwd=ROOT, env=envs[0],
                            check=True, capture_output=True)
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "core.cli", "demo-data"], cwd=ROOT, env=envs[0],
                            check=True, capture_output=True)
    procs = [_spawn(["core.cli", "run"], env, tmp / f"onestop-{n_procs}-{i}.log") for i, env in enumerate(envs)]
    try:
        for port, proc, i in zip(ports, procs, range(n_procs), strict=True):
            _wait_healthy(port, proc, tmp / f"onestop-{n_procs}-{i}.log")
        backends = [f"http://127.0.0.1:{p}" for p in ports]
        await drive(backends, answers, max(4, conversations // 10), concurrency, random.randrange(10**9, 2 * 10**9))
        wall, lat = await drive(backends, answers, conversations, concurrency, random.randrange(3 * 10**9, 4 * 10**9))
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as s:
            tickets = await s.scalar(select(func.count()).select_from(Ticket))
            inbox_rows = dict((await s.execute(select(InboundUpdate.status, func.count())
                                               .group_by(InboundUpdate.status))).all())
        await engine.dispose()
    finally:
        _stop(procs)
        await drop()
    return {"procs": n_procs, "updates_per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "updates": len(lat), "tickets": tickets, "inbox": inbox_rows,
            "no_submit_button": answers.no_submit_button}


async def bench_echo(standin: StandInTelegram, answers: Answers, conversations: int, concurrency: int,
                     tmp: Path) -> dict[str, Any]:
    port = free_port()
    log = tmp / "echo.log"
    proc = _spawn(["bench.updates.echo_bot", str(port), standin.base, SECRET], dict(os.environ), log)
    try:
        _wait_healthy(port, proc, log)
        backends = [f"http://127.0.0.1:{port}"]
        await drive(backends, answers, max(4, conversations // 10), concurrency, random.randrange(10**9),
                    product=False)
        wall, lat = await drive(backends, answers, conversations, concurrency, random.randrange(10**9),
                                product=False)
    finally:
        _stop([proc])
    return {"procs": "echo", "updates_per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "updates": len(lat), "tickets": "-"}


async def bench_statements(conversations: int) -> dict[str, float]:
    """Statements per update on SQLite: the whole path in-process, and the Dispatcher alone."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("dispatcher", "full"):
            ctx = await make_ctx(f"sqlite+aiosqlite:///{tmp}/{label}.db")
            async with ctx.sessionmaker() as s:
                await load_demo(s, now=ctx.clock.now())
            ctx.settings.flood_burst = 10**6
            ctx.settings.telegram_bot_token = SecretStr(TOKEN)
            ctx.settings.telegram_webhook_url = f"https://bench.example{HOOK}"
            ctx.settings.telegram_webhook_secret = SecretStr(SECRET)
            dp = build_dispatcher(ctx, storage=MemoryStorage())
            bot, session = make_bot()
            count = [0]
            event.listen(ctx.engine.sync_engine, "before_cursor_execute",
                         lambda *a, c=count: c.__setitem__(0, c[0] + 1))
            worker = InboxWorker(ctx, bot, dp)
            task = asyncio.create_task(worker.run()) if label == "full" else None
            app = create_app(ctx)
            updates = 0
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                for uid in range(5_000_000, 5_000_000 + conversations):
                    for kind, value in SCRIPT:
                        if kind == "submit":
                            data = next((d for d in session.buttons.get(uid, []) if d.startswith("flt:ok:")), "x")
                            raw = callback_update(uid, data)
                        else:
                            raw = _update(uid, kind, value, Answers(asyncio.get_running_loop()))
                        updates += 1
                        if label == "dispatcher":
                            await dp.feed_raw_update(bot, raw)
                            continue
                        await http.post(HOOK, json=raw, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                        while worker.handled < updates:  # noqa: ASYNC110  (one at a time: wait until done)
                            await asyncio.sleep(0.002)
            if task is not None:
                await worker.stop(1)
                await task
            async with ctx.sessionmaker() as s:
                tickets = await s.scalar(select(func.count()).select_from(Ticket))
            assert tickets == conversations, f"{tickets} tickets for {conversations} conversations"
            out[label] = round(count[0] / updates, 2)
            await ctx.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", required=True)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--conversations", type=int, default=120)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--skip-statements", action="store_true")
    args = ap.parse_args()
    if not args.skip_statements:
        print("statements per update:", await bench_statements(10), flush=True)
    standin = StandInTelegram().start()
    answers = Answers(asyncio.get_running_loop())
    standin.on_answer = answers
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-updates-"))  # kept: the processes' logs
    print("process logs in", tmp, flush=True)
    rows.append(await bench_echo(standin, answers, args.conversations, args.concurrency, tmp))
    print(rows[-1], flush=True)
    for n in [int(x) for x in args.procs.split(",")]:
        rows.append(await bench_onestop(args.pg, args.redis, standin, answers, n, args.conversations,
                                        args.concurrency, tmp))
        print(rows[-1], flush=True)
    standin.stop()
    echo = rows[0]["updates_per_s"]
    print("\n| processes | updates/s | ratio to echo | p50 ms | p99 ms | updates | tickets |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['procs']} | {r['updates_per_s']:.0f} | {r['updates_per_s'] / echo:.2f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['updates']} | {r['tickets']} |")
    print(f"\nwebhook POSTs repeated: {answers.retries}; load average: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())

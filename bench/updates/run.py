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
from collections.abc import Callable
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
from core.inbox import DONE, WAITING, WORKING  # noqa: E402
from db.enums import OutboxStatus  # noqa: E402
from db.models import InboundUpdate, OutboxNotification, Ticket  # noqa: E402
from db.session import make_engine, make_sessionmaker  # noqa: E402
from tests.e2e.conftest import free_port  # noqa: E402
from tests.e2e.standin import TOKEN, StandInTelegram  # noqa: E402

SECRET = "bench-Webhook-secret-0123456789"
HOOK = "/tg/hook"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


SUBMIT_PREFIX = "flt:ok:"  # FaultCallback(act=Act.submit, v=<form key>).pack() in bot/routers/fault.py


class MissingSubmit(RuntimeError):
    """The bot's summary with its Submit button never reached a resident: the conversation cannot finish."""


class Answers:
    """Wakes the driver when the bot answers a chat (or a button tap); keeps each chat's Submit button.

    The Submit button's data carries the form's key (``flt:ok:<key>``), so the driver must tap exactly the
    button the bot sent: a placeholder is refused by the bot ("no longer active") and files nothing.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[int | str, asyncio.Event] = {}
        self.submit: dict[int, str] = {}  # chat → the data of the latest Submit button the bot sent it
        self.retries = 0  # webhook POSTs that had to be repeated (not 2xx or connection error)

    def reset(self) -> None:
        """Per configuration: nothing of the previous run (e.g. the echo bot's) leaks into the next."""
        self.waiting.clear()
        self.submit.clear()
        self.retries = 0

    def __call__(self, chat: int | None, callback_id: str, buttons: list[str] | None) -> None:
        self.loop.call_soon_threadsafe(self._set, chat, callback_id, buttons)

    def _set(self, chat: int | None, callback_id: str, buttons: list[str] | None) -> None:
        data = next((d for d in buttons or [] if d.startswith(SUBMIT_PREFIX)), None)
        if chat is not None and data is not None:
            self.submit[chat] = data
        for key in (chat, callback_id):
            ev = self.waiting.get(key) if key else None
            if ev is not None:
                ev.set()

    async def submit_button(self, uid: int, timeout: float = 30) -> str:
        """The Submit button the bot sent this resident (the summary may follow the phone step's first answer)."""
        deadline = time.monotonic() + timeout
        while uid not in self.submit:
            if time.monotonic() > deadline:
                raise MissingSubmit(f"resident {uid}: no Submit button within {timeout:.0f} s")
            await asyncio.sleep(0.01)
        return self.submit.pop(uid)


async def next_update(uid: int, kind: str, value: str, answers: Answers, *, product: bool = True) -> dict[str, Any]:
    if kind == "text":
        return text_update(uid, value)
    if kind == "cb":
        return callback_update(uid, value)
    # The echo bot sends no summary; any tap gets the same answer from it.
    return callback_update(uid, await answers.submit_button(uid) if product else SUBMIT_PREFIX + "echo")


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
                    raw = await next_update(uid, kind, value, answers, product=product)
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
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "onestop.cli", "migrate"], cwd=ROOT, env=envs[0],
                            check=True, capture_output=True)
    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "onestop.cli", "demo-data"], cwd=ROOT, env=envs[0],
                            check=True, capture_output=True)
    procs = [_spawn(["onestop.cli", "run"], env, tmp / f"onestop-{n_procs}-{i}.log") for i, env in enumerate(envs)]
    try:
        for port, proc, i in zip(ports, procs, range(n_procs), strict=True):
            _wait_healthy(port, proc, tmp / f"onestop-{n_procs}-{i}.log")
        backends = [f"http://127.0.0.1:{p}" for p in ports]
        answers.reset()
        warm_uid, uid = random.randrange(10**9, 2 * 10**9), random.randrange(3 * 10**9, 4 * 10**9)
        warm = max(4, conversations // 10)
        engine = make_engine(url)
        try:
            demo_tickets = await ticket_count(engine)  # the demo data's own
            await drive(backends, answers, warm, concurrency, warm_uid)
            wall, lat = await drive(backends, answers, conversations, concurrency, uid)
            # The driver moves on at the first answer (the Submit tap's answerCallbackQuery comes before the
            # ticket is written): counting now would miss the last tickets, so wait for the work in hand.
            tickets_at_once = await ticket_count(engine) - demo_tickets
            outcome = await settle(engine, [*range(warm_uid, warm_uid + warm), *range(uid, uid + conversations)],
                                   demo_tickets, standin.replies_to)
        finally:
            await engine.dispose()
    finally:
        _stop(procs)
        await drop()
    return {"procs": n_procs, "updates_per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "updates": len(lat), "tickets_at_last_answer": tickets_at_once,
            "retries": answers.retries, **outcome}


async def ticket_count(engine: Any) -> int:
    async with make_sessionmaker(engine)() as s:
        return await s.scalar(select(func.count()).select_from(Ticket)) or 0


async def settle(engine: Any, uids: list[int], demo_tickets: int, replies: Callable[[int], list[str]],
                 timeout: float = 120) -> dict[str, Any]:
    """Wait until the inbox and the outbox are idle, then read what the run left in the database."""
    sm = make_sessionmaker(engine)
    deadline = time.monotonic() + timeout
    while True:
        async with sm() as s:
            inbox = dict((await s.execute(select(InboundUpdate.status, func.count())
                                          .group_by(InboundUpdate.status))).all())
            outbox = {str(k): v for k, v in (await s.execute(select(OutboxNotification.status, func.count())
                                                             .group_by(OutboxNotification.status))).all()}
        busy = inbox.get(WAITING, 0) + inbox.get(WORKING, 0) + outbox.get(OutboxStatus.pending.value, 0)
        if not busy or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    async with sm() as s:
        numbers: dict[int, list[str]] = {}
        for rid, number in (await s.execute(select(Ticket.resident_id, Ticket.number)
                                            .where(Ticket.resident_id.in_(uids)))).all():
            numbers.setdefault(rid, []).append(number)
        tickets = (await s.scalar(select(func.count()).select_from(Ticket)) or 0) - demo_tickets
    return {"tickets": tickets, "conversations": len(uids), "inbox": inbox, "outbox": outbox,
            "problems": problems(uids, numbers, tickets, inbox, outbox, replies)}


def problems(uids: list[int], numbers: dict[int, list[str]], tickets: int, inbox: dict[str, int],
             outbox: dict[str, int], replies: Callable[[int], list[str]]) -> list[str]:
    """What a run got wrong: every conversation files exactly one ticket and is told its number; every
    update is handled and every outbox row sent."""
    out = []
    wrong = {u: len(numbers.get(u, [])) for u in uids if len(numbers.get(u, [])) != 1}
    if wrong:
        out.append(f"{len(wrong)} conversations did not file exactly one ticket: {dict(list(wrong.items())[:5])}")
    if tickets != len(uids):
        out.append(f"{tickets} new tickets in the database for {len(uids)} conversations")
    untold = [u for u in uids if len(numbers.get(u, [])) == 1
              and not any(numbers[u][0] in text for text in replies(u))]
    if untold:
        out.append(f"{len(untold)} residents never got their ticket number: {untold[:5]}")
    if set(inbox) - {DONE}:
        out.append(f"inbox not all done: {inbox}")
    if set(outbox) - {OutboxStatus.sent.value}:
        out.append(f"outbox not all sent: {outbox}")
    return out


async def bench_echo(standin: StandInTelegram, answers: Answers, conversations: int, concurrency: int,
                     tmp: Path) -> dict[str, Any]:
    port = free_port()
    log = tmp / "echo.log"
    proc = _spawn(["bench.updates.echo_bot", str(port), standin.base, SECRET], dict(os.environ), log)
    try:
        _wait_healthy(port, proc, log)
        backends = [f"http://127.0.0.1:{port}"]
        answers.reset()
        await drive(backends, answers, max(4, conversations // 10), concurrency, random.randrange(10**9),
                    product=False)
        wall, lat = await drive(backends, answers, conversations, concurrency, random.randrange(10**9),
                                product=False)
    finally:
        _stop([proc])
    return {"procs": "echo", "updates_per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "updates": len(lat), "tickets": "-",
            "retries": answers.retries, "problems": []}


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
                            data = next((d for d in session.buttons.get(uid, []) if d.startswith(SUBMIT_PREFIX)), None)
                            if data is None:
                                raise MissingSubmit(f"resident {uid}: no Submit button")
                            raw = callback_update(uid, data)
                        else:
                            raw = text_update(uid, value) if kind == "text" else callback_update(uid, value)
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
    print("\n| processes | updates/s | ratio to echo | p50 ms | p99 ms | updates | tickets / conversations |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['procs']} | {r['updates_per_s']:.0f} | {r['updates_per_s'] / echo:.2f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['updates']} | {r['tickets']} / {r.get('conversations', '-')} |")
    print(f"\nwebhook POSTs repeated: {[r['retries'] for r in rows]}; load average: {os.getloadavg()}")
    failed = [f"{r['procs']} processes: {p}" for r in rows for p in r["problems"]]
    if failed:  # the figures above are printed anyway; the run itself is not valid
        raise SystemExit("benchmark run invalid:\n" + "\n".join(failed))


if __name__ == "__main__":
    asyncio.run(main())

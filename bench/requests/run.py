"""Service requests benchmark.

    .venv/bin/python -m bench.requests.run bot [--conversations 400] [--pg URL]
    .venv/bin/python -m bench.requests.run api --pg URL [--tickets 100000] [--requests 400]

``bot``: complete fault-report conversations (menu -> utility -> category -> typed address -> extent ->
description -> skip photos -> phone -> submit: 9 updates, one ticket) fed as raw Telegram JSON through
``Dispatcher.feed_raw_update`` with every middleware, the database and the real routers, against a bare
aiogram echo bot (one router: echo the text, answer the button) on the same harness: the same updates,
the same recording Bot session, the same concurrency. Each conversation is a different resident (as in
life, and so flood protection never drops an update). The figure is updates/s and the ratio of the two.

``api``: p50/p99 of ``GET /api/v1/tickets`` (in-process ASGI, bearer token) with typical console filters
over ``--tickets`` tickets on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.client.default import DefaultBotProperties  # noqa: E402
from aiogram.client.session.base import BaseSession  # noqa: E402
from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402
from aiogram.types import CallbackQuery, Chat, Message, User  # noqa: E402
from pydantic import SecretStr  # noqa: E402

import db.models  # noqa: E402, F401  (registers the tables on Base.metadata)
from core.clock import LOCAL_TZ, FrozenClock  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.settings import Settings  # noqa: E402
from db.base import Base  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL_TZ)
BOT_ID = 1000000001


# --- the shared harness ------------------------------------------------------------------------------------


class RecordingSession(BaseSession):
    """Answers every Bot API call like Telegram would, without a network; remembers inline buttons per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(10_000)
        self.calls = 0
        self.buttons: dict[int, list[str]] = {}

    async def close(self) -> None:
        pass

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        self.calls += 1
        name = type(method).__name__
        chat_id = getattr(method, "chat_id", None)
        markup = getattr(method, "reply_markup", None)
        if chat_id is not None and markup is not None and hasattr(markup, "inline_keyboard"):
            self.buttons[int(chat_id)] = [b.callback_data for row in markup.inline_keyboard for b in row
                                          if b.callback_data]
        if name.startswith("Send") or name == "EditMessageText":
            return Message(message_id=next(self.ids), date=datetime.now(UTC),
                           chat=Chat(id=int(chat_id or 0), type="private"),
                           from_user=User(id=BOT_ID, is_bot=True, first_name="Onestop"),
                           text=getattr(method, "text", None))
        return True

    async def stream_content(self, *a: Any, **kw: Any):  # pragma: no cover - not used
        yield b""


def make_bot() -> tuple[Bot, RecordingSession]:
    session = RecordingSession()
    return Bot(f"{BOT_ID}:BENCH", session=session, default=DefaultBotProperties(parse_mode="HTML")), session


_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "居民", "language_code": "zh-hans"}


def text_update(uid: int, text: str) -> dict[str, Any]:
    return {"update_id": next(_update_ids), "message": {
        "message_id": next(_message_ids), "date": int(time.time()), "chat": {"id": uid, "type": "private"},
        "from": _user(uid), "text": text}}


def callback_update(uid: int, data: str) -> dict[str, Any]:
    return {"update_id": next(_update_ids), "callback_query": {
        "id": str(next(_update_ids)), "from": _user(uid), "chat_instance": "ci", "data": data,
        "message": {"message_id": next(_message_ids), "date": int(time.time()),
                    "chat": {"id": uid, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "Onestop"}, "text": "…"}}}


SCRIPT: list[tuple[str, str]] = [
    ("text", "🛠 故障报修"),
    ("cb", "flt:u:water"),
    ("cb", "flt:c:water.water_leak"),
    ("text", "城东区人民路12号3单元502"),
    ("cb", "flt:x:home"),
    ("text", "厨房水管接头漏水，从早上开始"),
    ("cb", "rqn:f:s"),
    ("text", "13812345678"),
    ("submit", ""),  # the Submit button of the summary, as the resident's client shows it
]
UPDATES_PER_CONVERSATION = len(SCRIPT)


async def conversation(dp: Dispatcher, bot: Bot, session: RecordingSession, uid: int) -> None:
    for kind, value in SCRIPT:
        if kind == "text":
            raw = text_update(uid, value)
        elif kind == "cb":
            raw = callback_update(uid, value)
        else:
            data = next((d for d in session.buttons.get(uid, []) if d.startswith("flt:ok:")), "flt:ok:missing")
            raw = callback_update(uid, data)
        await dp.feed_raw_update(bot, raw, resident_rev=_rev(uid))


# The resident's revision as the inbox claim returns it with each update (core.inbox.claim): unknown before
# the first update (no resident yet), then 0 — nothing in these scripts changes a resident, and a wrong
# revision could only cost a read (core/resident_cache.py), never serve a stale copy.
_known: set[int] = set()


def _rev(uid: int) -> int | None:
    if uid in _known:
        return 0
    _known.add(uid)
    return None


async def floor_conversation(dp: Dispatcher, bot: Bot, session: RecordingSession, uid: int) -> None:
    """The same mix of texts and taps, but the cheapest path: /menu and a stale button (the fallback)."""
    for kind, _value in SCRIPT:
        raw = text_update(uid, "/menu") if kind == "text" else callback_update(uid, "zz:stale")
        await dp.feed_raw_update(bot, raw, resident_rev=_rev(uid))


async def drive(dp: Dispatcher, n: int, concurrency: int, first_uid: int,
                script: Any = conversation) -> tuple[float, int, RecordingSession]:
    bot, session = make_bot()
    uids = iter(range(first_uid, first_uid + n))
    sem = asyncio.Semaphore(concurrency)

    async def one(uid: int) -> None:
        async with sem:
            await script(dp, bot, session, uid)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(u) for u in uids))
    return time.perf_counter() - t0, n * UPDATES_PER_CONVERSATION, session


def echo_dispatcher() -> Dispatcher:
    """The baseline: bare aiogram, nothing but an echo and a button answer."""
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    @router.callback_query()
    async def tap(query: CallbackQuery) -> None:
        await query.answer()

    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(router)
    return dp


# --- databases ---------------------------------------------------------------------------------------------


async def make_ctx(url: str) -> AppContext:
    settings = Settings(_env_file=None, database_url=url, secret_key=SecretStr("bench"), redis_url=None,
                        telegram_bot_token=None)
    ctx = AppContext.create(settings, clock=FrozenClock(NOW))
    async with ctx.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    return ctx


async def fresh_pg(base: str) -> tuple[str, Any]:
    import asyncpg

    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"onestop_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return base.rsplit("/", 1)[0] + f"/{name}", drop


# --- bot throughput ----------------------------------------------------------------------------------------


async def bench_bot(url: str, label: str, n: int, concurrency: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.app import build_dispatcher
    from bot.middlewares.throttling import ThrottlingMiddleware
    from core.demo import load_demo
    from db.models import Ticket

    ctx = await make_ctx(url)
    async with ctx.sessionmaker() as s:
        await load_demo(s, now=NOW)
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    assert any(isinstance(m, ThrottlingMiddleware) for m in dp.update.outer_middleware)
    _known.clear()
    echo = echo_dispatcher()
    warm = max(10, n // 20)
    await drive(echo, warm, concurrency, 500_000)
    await drive(dp, warm, concurrency, 600_000)
    # Alternate the three so background noise on the machine hits them alike.
    ours_t = echo_t = floor_t = known_t = 0.0
    ours_u = echo_u = floor_u = known_u = 0
    rounds = 4
    for r in range(rounds):
        gc.collect()  # a collection left over from the last round would be charged to whoever runs next
        t, u, _ = await drive(echo, n // rounds, concurrency, 1_000_000 + r * n)
        echo_t, echo_u = echo_t + t, echo_u + u
        t, u, _ = await drive(dp, n // rounds, concurrency, 2_000_000 + r * n)
        ours_t, ours_u = ours_t + t, ours_u + u
        t, u, _ = await drive(dp, n // rounds, concurrency, 3_000_000 + r * n, floor_conversation)
        floor_t, floor_u = floor_t + t, floor_u + u
        # The same cheap path for residents the bot already knows (this round's fault reporters).
        t, u, _ = await drive(dp, n // rounds, concurrency, 2_000_000 + r * n, floor_conversation)
        known_t, known_u = known_t + t, known_u + u
    async with ctx.sessionmaker() as s:
        tickets = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
    await ctx.close()
    expected = warm + (n // rounds) * rounds
    assert tickets == expected, f"{tickets} tickets for {expected} conversations"
    ours, base, floor, known = ours_u / ours_t, echo_u / echo_t, floor_u / floor_t, known_u / known_t
    return {"label": label, "ours": ours, "echo": base, "ratio": ours / base, "conversations": n,
            "tickets": tickets, "concurrency": concurrency, "floor": floor, "floor_ratio": floor / base,
            "known": known, "known_ratio": known / base}


# --- ticket-list API -----------------------------------------------------------------------------------------


async def seed_tickets(ctx: AppContext, count: int) -> dict[str, Any]:
    """Bulk-insert ``count`` tickets spread over 120 days, kinds, statuses, districts and owners."""
    from sqlalchemy import insert

    from core import staff
    from db.enums import Priority, StaffRole, TicketKind, TicketStatus, Utility
    from db.models import Ticket

    rng = random.Random(5)
    async with ctx.sessionmaker() as s:
        owners = []
        for i in range(20):
            u = await staff.create_staff(s, username=f"agent{i}", display_name=f"A{i}", role=StaffRole.agent,
                                         password="x", now=NOW)
            owners.append(u.id)
        token = await staff.create_api_token(s, name="bench", role=StaffRole.supervisor, now=NOW)
        await s.commit()
    districts = ["城东区", "城西区", "城南区", "城北区"]
    kinds = [TicketKind.fault] * 6 + [TicketKind.complaint] * 2 + [TicketKind.callback, TicketKind.followup]
    statuses = [TicketStatus.closed] * 5 + [TicketStatus.resolved] * 2 + [
        TicketStatus.new, TicketStatus.accepted, TicketStatus.in_progress]
    cats = ["no_gas", "no_water", "water_leak", "low_pressure", "meter_fault", "power_cut", "gas_leak", "other"]
    batch = []
    sample = ""  # a number that exists, for the lookup case
    start = NOW - timedelta(days=120)
    async with ctx.engine.begin() as conn:
        for i in range(count):
            created = start + timedelta(seconds=i * (120 * 86400 / count))
            kind = rng.choice(kinds)
            st = rng.choice(statuses)
            number = f"BX-{created.astimezone(LOCAL_TZ):%Y%m%d}-{i:06d}"
            if i == count // 2:
                sample = number
            batch.append({
                "number": number, "kind": kind, "status": st,
                "priority": Priority.emergency if rng.random() < 0.03 else Priority.normal, "resident_id": None,
                "utility": rng.choice(list(Utility)),
                "category": rng.choice(cats) if kind is TicketKind.fault else None,
                "subject": f"工单 Ticket {i} " + rng.choice(["燃气", "水压", "电表", "投诉", "回电"]),
                "description": "", "district": rng.choice(districts), "attachments": [], "language": "zh_Hans",
                "owner_id": rng.choice(owners) if st is not TicketStatus.new else None,
                "deadline_at": created + timedelta(days=3), "created_at": created, "updated_at": created,
            })
            if len(batch) == 5000:
                await conn.execute(insert(Ticket), batch)
                batch.clear()
        if batch:
            await conn.execute(insert(Ticket), batch)
    async with ctx.engine.begin() as conn:
        from sqlalchemy import text

        if conn.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE ticket"))
    return {"token": token, "owners": owners, "sample": sample}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def bench_api(url: str, count: int, requests: int) -> list[tuple[str, float, float, int]]:
    import httpx

    from api.app import create_app

    ctx = await make_ctx(url)
    t0 = time.perf_counter()
    seeded = await seed_tickets(ctx, count)
    print(f"seeded {count} tickets in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    try:
        app = create_app(ctx)
        note = "the full console app (create_app)"
    except Exception as e:  # another feature's module is broken in this tree: measure our router alone
        from fastapi import FastAPI

        from api.v1 import tickets as v1_tickets

        app = FastAPI()
        app.state.ctx = ctx
        app.include_router(v1_tickets.router)
        note = f"the tickets router alone (create_app failed: {type(e).__name__})"
    print(f"measuring {note}", file=sys.stderr)
    headers = {"Authorization": f"Bearer {seeded['token']}"}
    owner = seeded["owners"][3]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("newest 50 (no filter)", {}),
        ("open only", {"open": "true"}),
        ("status=new, unassigned", {"status": "new", "unassigned": "true"}),
        ("kind=fault & district", {"kind": "fault", "district": "城南区"}),
        ("one agent's open tickets by deadline", {"owner_id": owner, "open": "true", "sort": "deadline"}),
        ("overdue", {"overdue": "true"}),
        ("complaints, created last 7 days", {"kind": "complaint",
                                            "created_from": (NOW - timedelta(days=7)).isoformat()}),
        ("page 2 (cursor)", {"_cursor": True}),
        ("number lookup", {"number": seeded["sample"]}),
        ("subject contains", {"q": "水压"}),
    ]
    results = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        first = (await client.get("/api/v1/tickets", headers=headers)).json()
        cursor = first["next_cursor"]
        for _ in range(20):  # warm up caches and the connection pool
            await client.get("/api/v1/tickets", headers=headers, params={"open": "true"})
        for name, params in cases:
            if params.pop("_cursor", False):
                params = {"cursor": cursor}
            times = []
            rows = 0
            for _ in range(requests):
                t = time.perf_counter()
                r = await client.get("/api/v1/tickets", headers=headers, params=params)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                rows = len(r.json()["items"])
            results.append((name, statistics.median(times), pct(times, 0.99), rows))
    await ctx.close()
    return results


# --- command line ------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["bot", "api"])
    parser.add_argument("--pg", help="PostgreSQL base URL (a fresh database is created and dropped)")
    parser.add_argument("--conversations", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    if args.what == "bot":
        rows = []
        tmp = tempfile.mkdtemp()
        rows.append(await bench_bot(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", args.conversations,
                                    args.concurrency))
        if args.pg:
            url, drop = await fresh_pg(args.pg)
            try:
                rows.append(await bench_bot(url, "PostgreSQL", args.conversations, args.concurrency))
            finally:
                await drop()
        print("| database | conversations | fault reports (updates/s) | bare aiogram echo (updates/s) | ratio | "
              "floor: /menu + stale tap, new residents (updates/s) | ratio | floor, known residents (updates/s) | "
              "ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['label']} | {r['conversations']} x {UPDATES_PER_CONVERSATION} updates, "
                  f"{r['concurrency']} at a time | {r['ours']:.0f} | {r['echo']:.0f} | {r['ratio']:.2f} | "
                  f"{r['floor']:.0f} | {r['floor_ratio']:.2f} | {r['known']:.0f} | {r['known_ratio']:.2f} |")
        return
    if not args.pg:
        parser.error("api needs --pg")
    url, drop = await fresh_pg(args.pg)
    try:
        results = await bench_api(url, args.tickets, args.requests)
    finally:
        await drop()
    print(f"| GET /api/v1/tickets ({args.tickets} tickets, PostgreSQL) | p50 ms | p99 ms | rows |")
    print("|---|---|---|---|")
    for name, p50, p99, rows in results:
        print(f"| {name} | {p50:.1f} | {p99:.1f} | {rows} |")


if __name__ == "__main__":
    asyncio.run(main())

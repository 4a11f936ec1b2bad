"""Knowledge features in the bot: question -> answer through the real Dispatcher, checklist ticks,
and the written notice (PDF).

    .venv/bin/python -m bench.knowledge_bot.run            # SQLite file database
    .venv/bin/python -m bench.knowledge_bot.run --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test

Each update goes through every middleware (DB session, resident, i18n, throttling, FSM) and the
real matcher and catalogue; the Bot is the recording test double, so no network time is counted.
Residents are spread over many user ids so flood protection never drops a measured update.
Figures are per update (one resident message or button tap), measured sequentially.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.app import build_dispatcher  # noqa: E402
from bot.keyboards.guides import ChecklistCallback, NoticeCallback, fingerprint, topic_index  # noqa: E402
from core import notices  # noqa: E402
from core.clock import LOCAL_TZ, FrozenClock  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.settings import Settings  # noqa: E402
from db.base import Base  # noqa: E402
from db.models import Resident  # noqa: E402
from tests import updates  # noqa: E402
from tests.mocked_bot import MockedBot  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL_TZ)
OFF_TOPIC = ["今天天气怎么样", "你是机器人吗", "帮我订一张去北京的火车票", "what's the football score",
             "tell me a joke", "附近有什么好吃的"]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def row(name: str, ms: list[float]) -> str:
    total = sum(ms) / 1000
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {pct(ms, 0.99):.1f} | "
            f"{len(ms) / total:.0f} |")


async def make_ctx(url: str) -> AppContext:
    settings = Settings(_env_file=None, database_url=url, secret_key=SecretStr("bench"), redis_url=None,
                        telegram_bot_token=None)
    ctx = AppContext.create(settings, clock=FrozenClock(NOW))
    async with ctx.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    return ctx


async def run(url: str, n: int) -> list[str]:
    ctx = await make_ctx(url)
    catalogue = ctx.catalogue
    _ = ctx.matcher  # index once, outside the measurement
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    bot = MockedBot()
    users = itertools.count(100_000)
    async with ctx.sessionmaker() as s:
        for uid in range(100_000, 100_000 + 4 * n + 10):
            lang = "en" if uid % 3 == 0 else "zh_Hans"
            s.add(Resident(id=uid, first_name="R", language=lang, guided_mode=False, blocked=False,
                           link_failures=0, misses=0, created_at=NOW, last_seen_at=NOW))
        await s.commit()

    questions = [(q, "zh") for t in catalogue for q in t.questions.zh] + \
                [(q, "en") for t in catalogue for q in t.questions.en]
    out: list[str] = []

    async def timed(update) -> float:
        bot.clear()
        t0 = time.perf_counter()
        await dp.feed_update(bot, update)
        return (time.perf_counter() - t0) * 1000

    asked, missed, ticks = [], [], []
    for i in range(n):
        q, lang = questions[i % len(questions)]
        uid = next(users)
        while (uid % 3 == 0) != (lang == "en"):
            uid = next(users)
        asked.append(await timed(updates.text(q, user_id=uid)))
    for i in range(n):
        missed.append(await timed(updates.text(OFF_TOPIC[i % len(OFF_TOPIC)], user_id=next(users))))
    t = topic_index(catalogue, "gas.transfer")
    v = fingerprint(catalogue["gas.transfer"])
    for i in range(n):
        data = ChecklistCallback(t=t, d=i % 7, m=(i * 37) % 128, v=v).pack()
        ticks.append(await timed(updates.callback(data, user_id=next(users), message_id=i + 1)))
    out += [row("free-text question (answer / ambiguous, real matcher)", asked),
            row("off-topic question (no match, logged, miss counted)", missed),
            row("checklist tick (edit message)", ticks)]

    # Written notices: the first one builds the font subset (cold); the rest reuse it.
    # A private temp dir, so the font-subset cache starts empty without touching anyone else's.
    previous, tempfile.tempdir = tempfile.tempdir, tempfile.mkdtemp()
    notices._SUBSETS.clear()
    pdf_ms = []
    for i in range(max(10, n // 10)):
        m = (i * 37) % 128
        data = NoticeCallback(t=t, m=m, v=v).pack()
        pdf_ms.append(await timed(updates.callback(data, user_id=next(users), message_id=10_000 + i)))
    cold, warm = pdf_ms[0], pdf_ms[1:]
    out.append(row("written notice (PDF + GZ number + copy on file), warm", warm))
    out.append(f"| written notice, first after start (builds the font subset) | 1 | {cold:.0f} | - | - |")

    # The PDF alone, without the font subset (what every notice would cost without it).
    content = notices.NoticeContent(reference="GZ-20261123-0001", issued_at=NOW, lang="zh",
                                    topic=catalogue["gas.transfer"], have=frozenset(), company="x", hotline="y")
    full = []
    for _ in range(5):
        t0 = time.perf_counter()
        notices.build_pdf(content, lambda s: s, subset=False)
        full.append((time.perf_counter() - t0) * 1000)
    out.append(row("PDF build alone, full font (no subset)", full))
    shutil.rmtree(tempfile.tempdir, ignore_errors=True)
    tempfile.tempdir = previous
    await ctx.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", help="PostgreSQL URL (a scratch database is created and dropped)")
    parser.add_argument("-n", type=int, default=300, help="updates per scenario")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if args.pg:
        import asyncpg

        name = f"bench_kb_{uuid.uuid4().hex[:8]}"
        dsn = args.pg.replace("postgresql+asyncpg://", "postgresql://")

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(dsn)
            await conn.execute(sql)
            await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url, label = args.pg.rsplit("/", 1)[0] + f"/{name}", "PostgreSQL"
    else:
        url, label = f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite"
    try:
        lines = asyncio.run(run(url, args.n))
    finally:
        if args.pg:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"### {label}, n={args.n}\n")
    print("| scenario | updates | p50 ms | p99 ms | updates/s |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

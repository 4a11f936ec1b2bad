"""Per-update cost of the bot: SQL statements per update and the cProfile top entries.

    .venv/bin/python -m bench.requests.profile [--conversations 100] [--pg URL] [--top 25]

Feeds the same updates as ``bench.requests.run bot`` (fault-report conversations, and the cheapest path:
``/menu`` and a stale button) through the real Dispatcher on SQLite (or a fresh PostgreSQL database), counts
the SQL statements the engine executes per update by path, and prints cProfile's top entries by
cumulative-own time for the cheap path.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.requests.run import (  # noqa: E402
    NOW,
    UPDATES_PER_CONVERSATION,
    conversation,
    drive,
    floor_conversation,
    fresh_pg,
    make_ctx,
)


def _kind(statement: str) -> str:
    """``SELECT resident``, ``INSERT ticket``…: the verb and the first table."""
    words = statement.split()
    head = words[0].upper() if words else "?"
    if head == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1].strip(chr(34))}"
    if head in ("INSERT", "DELETE") and len(words) > 2:
        return f"{head} {words[2].strip(chr(34))}"
    if head == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1].strip(chr(34))}"
    return head


async def profile(url: str, n: int, top: int) -> None:
    from bot.app import build_dispatcher
    from core.demo import load_demo

    ctx = await make_ctx(url)
    async with ctx.sessionmaker() as s:
        await load_demo(s, now=NOW)
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    counts: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *a: Any) -> None:
        counts[_kind(statement)] += 1

    await drive(dp, 10, 8, 700_000)  # warm up
    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
    for name, script, first in (("fault report", conversation, 800_000),
                                ("floor (/menu, stale tap), new residents", floor_conversation, 900_000),
                                ("floor, known residents (the fault reporters)", floor_conversation, 800_000)):
        counts.clear()
        await drive(dp, n, 8, first, script)
        updates = n * UPDATES_PER_CONVERSATION
        total = sum(counts.values())
        print(f"## {name}: {total / updates:.2f} SQL statements per update ({total} for {updates} updates)")
        for kind, c in counts.most_common():
            print(f"  {c / updates:6.2f}  {kind}")
    event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)

    prof = cProfile.Profile()
    prof.enable()
    await drive(dp, n, 8, 900_000, floor_conversation)  # residents known by now: the cheapest update
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    print(f"## cProfile, floor path of known residents, {n * UPDATES_PER_CONVERSATION} updates, top {top} "
          "by own time")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:20000])
    await ctx.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="PostgreSQL base URL (a fresh database is created and dropped)")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.pg:
        url, drop = await fresh_pg(args.pg)
        try:
            await profile(url, args.conversations, args.top)
        finally:
            await drop()
    else:
        await profile(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db", args.conversations, args.top)


if __name__ == "__main__":
    asyncio.run(main())

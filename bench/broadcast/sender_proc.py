"""Run one outbox sender as its own process (what `onestop worker` runs, without the scheduler).

Used by the SIGKILL test and the benchmark: it can be killed with -9 at any moment and started again.
Exits when ``--until-idle`` is given and no pending row is left.

    python -m bench.broadcast.sender_proc --db URL --api http://127.0.0.1:8081 [--worker-id w1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets

from pydantic import SecretStr

from bot.app import build_bot
from bot.sender import Sender
from core import outbox
from core.context import AppContext
from core.settings import SenderSettings, Settings


async def run(args: argparse.Namespace) -> dict:
    settings = Settings(_env_file=None, database_url=args.db, telegram_api_base=args.api,
                        telegram_bot_token=SecretStr("1000000001:BENCH"),
                        # A token means production, which needs a secret key (issue 12 F4); a sender signs no
                        # sessions and hashes no bill codes, so a throw-away one will do.
                        secret_key=SecretStr(secrets.token_urlsafe(32)),
                        sender=SenderSettings(rate_per_second=args.rate, batch_size=args.batch))
    ctx = AppContext.create(settings)
    bot = build_bot(settings)
    sender = Sender(ctx, bot, worker_id=args.worker_id, lease_seconds=args.lease)
    task = asyncio.create_task(sender.run(idle_sleep=0.2))
    try:
        while args.until_idle:
            await asyncio.sleep(1.0)
            async with ctx.sessionmaker() as session:
                if await outbox.pending_count(session) == 0:
                    break
        else:
            await task
    finally:
        sender.stop()
        await asyncio.wait_for(task, 30)
        await bot.session.close()
        await ctx.close()
    return sender.stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--until-idle", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()

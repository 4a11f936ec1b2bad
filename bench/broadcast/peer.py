"""The peer figure: the same broadcast through `aiogram-broadcaster` (PyPI), against the same stand-in.

Runs in its own virtualenv (the library is not a project dependency), so it imports nothing from Onestop:

    /tmp/peer-venv/bin/python bench/broadcast/peer.py --api http://127.0.0.1:PORT --first 800000 --n 20000

The library sends one chat at a time with a fixed pause between sends (``SimpleInterval``), waits out a
429's ``retry_after`` through its event hook, and can persist its progress (``FileStorage``) so that a
killed process resumes with ``--restore``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram_broadcaster import Broadcaster, MailerStatus
from aiogram_broadcaster.contents import TextContent
from aiogram_broadcaster.intervals import SimpleInterval
from aiogram_broadcaster.utils.retry_after_handler import setup_retry_after_handler


async def main(args: argparse.Namespace) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(args.api))
    bot = Bot("1000000001:PEER", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    storage = None
    if args.storage:
        from aiogram_broadcaster.storages.file import FileStorage

        storage = FileStorage(args.storage)
        await storage.startup()
    broadcaster = Broadcaster(bot, storage=storage)
    setup_retry_after_handler(broadcaster.event)
    if args.restore:
        await broadcaster.restore_mailers()
        mailers = list(broadcaster)
    else:
        mailer = await broadcaster.create_mailer(
            chats=range(args.first, args.first + args.n),
            content=TextContent(text="🚨 <b>紧急停水</b> · bench"),
            interval=SimpleInterval(interval=1 / args.rate),
        )
        mailers = [mailer]
    tasks = [m.start() for m in mailers if m.status is MailerStatus.STOPPED]
    await asyncio.gather(*tasks)
    await session.close()
    print(json.dumps({"mailers": len(mailers)}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--rate", type=float, default=29.0)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--restore", action="store_true")
    asyncio.run(main(parser.parse_args()))

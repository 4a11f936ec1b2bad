"""The baseline: a bare aiogram webhook bot (aiohttp + SimpleRequestHandler), echo and button answer.

    python -m bench.updates.echo_bot PORT API_BASE SECRET
"""

from __future__ import annotations

import sys

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

TOKEN = "123456789:STANDIN-test-token"


def main() -> None:
    port, base, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    @router.callback_query()
    async def tap(query: CallbackQuery) -> None:
        await query.answer()

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    app = web.Application()
    app.router.add_get("/healthz", lambda _r: web.json_response({"status": "ok"}))
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path="/tg/hook")
    setup_application(app, dp, bot=bot)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()

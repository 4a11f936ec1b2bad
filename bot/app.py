"""Build the Bot and the Dispatcher from the application context."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from bot.inline_filters import run_sync_filters_inline
from bot.middlewares.commands import UnknownCommandMiddleware
from bot.middlewares.db import DbSessionMiddleware
from bot.middlewares.guards import CallbackGuardMiddleware, PrivateChatOnlyMiddleware
from bot.middlewares.i18n import ResidentI18nMiddleware
from bot.middlewares.menu_escape import MenuEscapeMiddleware
from bot.middlewares.resident import ResidentMiddleware
from bot.middlewares.throttling import ThrottlingMiddleware
from bot.routers import get_routers
from bot.routing import install_routing_index, remove_routing_index
from core.context import AppContext
from core.i18n import DEFAULT_LOCALE, DOMAIN
from core.settings import Settings

FORM_TTL_SECONDS = 3 * 24 * 3600  # an abandoned form is forgotten after three days


def build_bot(settings: Settings, session: AiohttpSession | None = None) -> Bot:
    if session is None:
        base = settings.api_base()
        session = AiohttpSession(api=TelegramAPIServer.from_base(base)) if base else AiohttpSession()
    return Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_storage(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation]:
    if settings.redis_url:
        storage = RedisStorage.from_url(settings.redis_url, state_ttl=FORM_TTL_SECONDS, data_ttl=FORM_TTL_SECONDS)
        return storage, RedisEventIsolation(storage.redis)
    return MemoryStorage(), SimpleEventIsolation()


def build_i18n(ctx: AppContext) -> I18n:
    return I18n(path=ctx.settings.locales_dir, default_locale=DEFAULT_LOCALE, domain=DOMAIN)


def build_dispatcher(ctx: AppContext, *, storage: BaseStorage | None = None,
                     isolation: BaseEventIsolation | None = None, routing_index: bool = True) -> Dispatcher:
    """``routing_index=False`` routes with plain aiogram (the equivalence test compares the two)."""
    if storage is None:
        storage, isolation = build_storage(ctx.settings)
    # Event isolation serialises the updates of one chat, so a burst never races the FSM.
    dp = Dispatcher(storage=storage, events_isolation=isolation or SimpleEventIsolation(), ctx=ctx)
    dp.update.outer_middleware(PrivateChatOnlyMiddleware(build_i18n(ctx)))  # before any database work (issue 13)
    dp.update.outer_middleware(DbSessionMiddleware(ctx.sessionmaker))
    dp.update.outer_middleware(ResidentMiddleware())
    dp.update.outer_middleware(ResidentI18nMiddleware(build_i18n(ctx)))
    dp.update.outer_middleware(ThrottlingMiddleware(burst=ctx.settings.flood_burst, window=ctx.settings.flood_window))
    dp.update.outer_middleware(MenuEscapeMiddleware())
    dp.update.outer_middleware(UnknownCommandMiddleware())  # not a form's answer (issue 13)
    dp.callback_query.outer_middleware(CallbackGuardMiddleware())  # every tap answered once (issue 13)
    dp.include_routers(*get_routers())
    run_sync_filters_inline(dp)  # no thread hand-off per filter check (issue 13, item 4)
    if routing_index:
        install_routing_index(dp)  # skip routers and handlers that cannot match (bot/routing.py, issue 13)
    else:
        remove_routing_index(dp)  # the routers are module-level: undo a previous Dispatcher's index
    return dp


COMMANDS = {
    "zh_Hans": [("menu", "主菜单"), ("help", "帮助"), ("cancel", "取消当前操作")],
    "en": [("menu", "Main menu"), ("help", "Help"), ("cancel", "Cancel the current step")],
}


async def set_commands(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS["zh_Hans"]])
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS["en"]], language_code="en")

"""Main-menu buttons always work: pressing one leaves any unfinished form.

Without this a resident who walked away from a form and comes back days later would have every
tap swallowed by the form's "type your answer" handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject, Update

from bot.keyboards.menu import is_menu_text


class MenuEscapeMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        inner = event.event if isinstance(event, Update) else event
        if isinstance(inner, Message) and inner.text and data.get("raw_state") is not None and is_menu_text(inner.text):
            await data["state"].clear()
            data["raw_state"] = None
        return await handler(event, data)

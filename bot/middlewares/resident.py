"""Load (or create on first contact) the resident behind an update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from core import residents


class ResidentMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return await handler(event, data)
        ctx = data["ctx"]
        resident, created = await residents.get_or_create(
            data["session"], user_id=user.id, first_name=user.first_name, username=user.username,
            now=ctx.clock.now(), cache=ctx.resident_cache, rev=data.get("resident_rev"),
        )
        data["resident"] = resident
        data["resident_is_new"] = created
        return await handler(event, data)

"""Request forms are never a trap: a form left unfinished for hours is forgotten at the next message.

Installed as an outer middleware on each request router's message and callback observers. While a
resident is in one of the router's forms it stamps the time of every step; when the next update comes
more than ``max_age`` later, the form is cleared (with a short notice) and the update is handled as if
no form were open, so a question typed days later is not taken as "the address".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.state import StatesGroup
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import gettext as _

TOUCHED = "form_touched"
DEFAULT_MAX_AGE = 12 * 3600.0


class StaleFormMiddleware(BaseMiddleware):
    def __init__(self, *groups: type[StatesGroup], max_age: float = DEFAULT_MAX_AGE) -> None:
        self.states = {name for g in groups for name in g.__all_states_names__}
        self.max_age = max_age

    def passes_through(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """True when this middleware would only call the handler (bot/routing.py may then skip the router)."""
        return data.get("raw_state") not in self.states or data.get("state") is None or data.get("ctx") is None

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state = data.get("state")
        ctx = data.get("ctx")
        if self.passes_through(event, data):
            return await handler(event, data)
        assert state is not None and ctx is not None
        now = ctx.clock.now().timestamp()
        touched = (await state.get_data()).get(TOUCHED)
        if touched is not None and now - float(touched) > self.max_age:
            await state.clear()
            data["raw_state"] = None
            if isinstance(event, Message):
                await event.answer(_("Your unfinished form from earlier has been closed; nothing was submitted."))
            return await handler(event, data)
        result = await handler(event, data)
        if await state.get_state() in self.states:
            await state.update_data({TOUCHED: ctx.clock.now().timestamp()})
        return result

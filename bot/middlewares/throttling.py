"""Flood protection without losing real input.

A resident may send bursts (pasting several lines, tapping quickly); only floods beyond
``burst`` updates per ``window`` seconds are dropped, with one polite notice. A repeated tap on the
same inline button within ``double_tap`` seconds is acknowledged and ignored (double taps must not
file two requests). Every throttled button tap is still answered (a short "too fast" toast), so no spinner is
left turning, and payments are never throttled: Telegram has already charged the resident (issue 13).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, PreCheckoutQuery, TelegramObject, Update
from aiogram.utils.i18n import gettext as _


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(self, *, burst: int = 20, window: float = 10.0, double_tap: float = 1.0) -> None:
        self.burst = burst
        self.window = window
        self.double_tap = double_tap
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._last_tap: dict[int, tuple[str, int, float]] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        if user is None or not isinstance(event, Update):
            return await handler(event, data)
        now = time.monotonic()
        inner = event.event
        if isinstance(inner, PreCheckoutQuery) or (isinstance(inner, Message) and inner.successful_payment):
            return await handler(event, data)
        if isinstance(inner, CallbackQuery) and inner.message is not None:
            key = (inner.data or "", inner.message.message_id, now)
            last = self._last_tap.get(user.id)
            self._last_tap[user.id] = key
            if last and last[0] == key[0] and last[1] == key[1] and now - last[2] < self.double_tap:
                await inner.answer()
                return None
        seen = self._seen.setdefault(user.id, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.burst:
            if isinstance(inner, Message) and now - self._warned.get(user.id, 0) > self.window:
                self._warned[user.id] = now
                await inner.answer(_("You are sending messages very quickly. Please wait a moment, then try again."))
            elif isinstance(inner, CallbackQuery):
                await inner.answer(_("Too fast, please wait a moment."))
            return None
        seen.append(now)
        if len(self._seen) > 50_000:  # bound memory on long runs
            self._seen.clear()
            self._last_tap.clear()
        return await handler(event, data)

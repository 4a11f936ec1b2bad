"""Driving the bot's forms by button text: one resident's chat with the dispatcher, and photo/location updates."""

from __future__ import annotations

import itertools
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from tests import updates

_IDS = itertools.count(900_000)


def buttons(bot, *, last: int = 6) -> list[tuple[str, str]]:
    """(text, callback_data) of the inline buttons on the bot's last few messages, newest first."""
    out = []
    for req in reversed(bot.requests[-last * 3:]):
        markup = getattr(req, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for b in row:
                    if b.callback_data:
                        out.append((b.text, b.callback_data))
    return out


def button(bot, contains: str) -> str:
    for text, data in buttons(bot):
        if contains in text:
            return data
    raise AssertionError(f"no button with {contains!r}; have {[t for t, _ in buttons(bot)]}")


class Chat:
    """One resident talking to the dispatcher."""

    def __init__(self, dp, bot, user_id: int) -> None:
        self.dp, self.bot, self.user_id = dp, bot, user_id

    async def send(self, text: str) -> None:
        await self.dp.feed_update(self.bot, updates.text(text, user_id=self.user_id))

    async def update(self, update: Any) -> None:
        await self.dp.feed_update(self.bot, update)

    async def press(self, contains: str) -> None:
        await self.tap(button(self.bot, contains))

    async def tap(self, data: str, message_id: int | None = None) -> None:
        """Each tap is on its own message unless told otherwise (a repeated tap on one message is a double tap)."""
        await self.dp.feed_update(self.bot, updates.callback(data, user_id=self.user_id,
                                                             message_id=message_id or next(_IDS)))

    def mark(self) -> int:
        return len(self.bot.requests)

    def texts_since(self, mark: int) -> list[str]:
        out = []
        for r in self.bot.requests[mark:]:
            t = getattr(r, "text", None) or getattr(r, "caption", None)
            if isinstance(t, str) and type(r).__name__ != "AnswerCallbackQuery":
                out.append(t)
        return out

    def last(self) -> str:
        texts = [getattr(r, "text", None) for r in self.bot.requests if type(r).__name__ == "SendMessage"]
        return texts[-1] if texts else ""

    def said(self, fragment: str, last: int = 8) -> bool:
        texts = [t for t in self.bot.texts()][-last:]
        return any(fragment in t for t in texts)

    def alerts(self) -> list[str]:
        return [r.text or "" for r in self.bot.sent("AnswerCallbackQuery")]


def photo(user_id: int, file_id: str = "photo-file", caption: str | None = None):
    """A photo message (Telegram sends several sizes; the largest is last)."""
    from datetime import UTC, datetime

    from aiogram.types import Chat as TgChat
    from aiogram.types import Message, PhotoSize, Update

    sizes = [PhotoSize(file_id=f"{file_id}-s", file_unique_id="s", width=90, height=90),
             PhotoSize(file_id=file_id, file_unique_id="l", width=1280, height=960)]
    msg = Message(message_id=next(_IDS), date=datetime.now(UTC), chat=TgChat(id=user_id, type="private"),
                  from_user=updates.user(user_id), photo=sizes, caption=caption)
    return Update(update_id=next(_IDS), message=msg)


def location(user_id: int, latitude: float = 31.3, longitude: float = 120.6):
    from datetime import UTC, datetime

    from aiogram.types import Chat as TgChat
    from aiogram.types import Location, Message, Update

    msg = Message(message_id=next(_IDS), date=datetime.now(UTC), chat=TgChat(id=user_id, type="private"),
                  from_user=updates.user(user_id), location=Location(latitude=latitude, longitude=longitude))
    return Update(update_id=next(_IDS), message=msg)

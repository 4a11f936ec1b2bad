"""Helpers of the knowledge features in the bot: residents, and the inline buttons the bot sent."""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardMarkup

from db.models import Resident
from tests.support.context import NOW


async def make_resident(session, user_id: int = 10001, language: str | None = "zh_Hans", guided: bool = False,
                        first_name: str = "王建国") -> Resident:
    resident = Resident(id=user_id, first_name=first_name, language=language, guided_mode=guided, blocked=False,
                        link_failures=0, misses=0, created_at=NOW, last_seen_at=NOW)
    session.add(resident)
    await session.commit()
    return resident


def buttons(markup: Any) -> list[tuple[str, str]]:
    """(text, callback_data) of every inline button."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]


def last_markup(bot) -> InlineKeyboardMarkup | None:
    for request in reversed(bot.requests):
        markup = getattr(request, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            return markup
    return None


def button_data(bot, prefix: str, index: int = 0) -> str:
    """callback_data of the index-th button whose data starts with ``prefix`` in the latest inline keyboard."""
    found = [d for _t, d in buttons(last_markup(bot)) if d and d.startswith(prefix)]
    assert len(found) > index, f"no button {prefix!r} #{index} in {buttons(last_markup(bot))}"
    return found[index]

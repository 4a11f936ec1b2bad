"""Walk guided mode like a resident who only taps buttons the bot actually sent (issue 8).

Every screen is checked as it arrives: at most 2 buttons a row and 6 a screen, each button an emoji
and a few words, Back and Home on every screen but the home screen, and no message longer than
300 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiogram.types import ReplyKeyboardMarkup

from bot.guided.ui import MAX_BUTTONS, MAX_PER_ROW, MAX_TEXT
from tests import updates

NAV_BACK = {"⬅️ 返回", "⬅️ Back"}
NAV_HOME = {"🏠 首页", "🏠 Home"}
_EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u2300-\u23FF]")


@dataclass
class Screen:
    texts: list[str]
    buttons: list[list[str]]
    inline: list[list[str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.texts[-1] if self.texts else ""

    @property
    def flat(self) -> list[str]:
        return [b for row in self.buttons for b in row]

    def find(self, fragment: str) -> str:
        matches = [b for b in self.flat if fragment in b]
        assert matches, f"no button with {fragment!r} on screen {self.text!r}: {self.flat}"
        return matches[0]


class Walker:
    def __init__(self, dp, bot, user_id: int, language_code: str = "zh-hans") -> None:
        self.dp, self.bot, self.user_id, self.language_code = dp, bot, user_id, language_code
        self.screens: list[Screen] = []

    @property
    def screen(self) -> Screen:
        return self.screens[-1]

    async def _feed(self, update) -> Screen:
        self.bot.clear()
        await self.dp.feed_update(self.bot, update)
        texts, buttons, inline = [], None, []
        for request in self.bot.requests:
            text = getattr(request, "text", None) or getattr(request, "caption", None)
            if isinstance(text, str):
                assert len(text) <= MAX_TEXT, f"{len(text)} characters: {text!r}"
                texts.append(text)
            markup = getattr(request, "reply_markup", None)
            if isinstance(markup, ReplyKeyboardMarkup):
                buttons = [[b.text for b in row] for row in markup.keyboard]
            elif markup is not None and hasattr(markup, "inline_keyboard"):
                inline = [[b.text for b in row] for row in markup.inline_keyboard]
        assert texts, "the bot said nothing"
        if buttons is None:  # no new keyboard: the previous one is still on screen
            buttons = self.screens[-1].buttons if self.screens else []
        screen = Screen(texts, buttons, inline)
        check(screen)
        self.screens.append(screen)
        return screen

    async def start(self) -> Screen:
        return await self._feed(updates.text("/start", user_id=self.user_id))

    async def tap(self, fragment: str) -> Screen:
        """Press the button of the current screen whose text contains ``fragment``."""
        label = self.screen.find(fragment)
        return await self._feed(updates.text(label, user_id=self.user_id))

    async def back(self) -> Screen:
        return await self.tap(self._nav(NAV_BACK))

    async def home(self) -> Screen:
        return await self.tap(self._nav(NAV_HOME))

    def _nav(self, labels: set[str]) -> str:
        [label] = [b for b in self.screen.flat if b in labels]
        return label

    async def share_contact(self, phone: str, *, own: bool = True) -> Screen:
        assert any("📞" in b or "📱" in b for b in self.screen.flat), "no share-contact button on screen"
        return await self._feed(updates.contact(phone, user_id=self.user_id,
                                                contact_user_id=None if own else self.user_id + 1))

    async def type_number(self, n: int) -> Screen:
        return await self._feed(updates.text(str(n), user_id=self.user_id))


def check(screen: Screen) -> None:
    """The guided-mode promise, checked on every screen."""
    rows = screen.buttons
    assert rows, f"no reply keyboard with {screen.text!r}"
    assert all(len(row) <= MAX_PER_ROW for row in rows), rows
    flat = screen.flat
    assert len(flat) <= MAX_BUTTONS, flat
    is_home = any("➕" in b for b in flat)  # only the home screen has "More services"
    if not is_home:
        assert any(b in NAV_BACK for b in flat) and any(b in NAV_HOME for b in flat), flat
    for label in flat:
        assert _EMOJI.search(label), f"button without an emoji: {label!r}"
        words = re.sub(r"^\d+\s*", "", _EMOJI.sub("", label)).strip()
        if re.search(r"[\u4e00-\u9fff]", words):
            assert 2 <= len(words.replace(" ", "")) <= 12, f"button text too long or short: {label!r}"
        else:
            assert 1 <= len(words.split()) <= 6, f"button text too long: {label!r}"

"""Guided (simple) mode screens: big numbered reply-keyboard buttons, one question per message (issue 8).

A screen is plain data (a short text and its options); ``engine`` turns it into a message with a reply
keyboard, remembers what each visible button means, and brings the resident back to it with Back.
The limits below are the product's promise to elderly residents, and the guided tests check every
screen against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

MAX_PER_ROW = 2
MAX_BUTTONS = 6
MAX_TEXT = 300  # characters per message: short enough to read without scrolling on a phone
PAGE = 4  # task buttons on a screen; with Back and Home that makes six

BACK = __("⬅️ Back")
HOME = __("🏠 Home")
MORE = __("➡️ More")

# Typed words that also mean Back / Home (any language), besides the buttons.
BACK_WORDS = {"back", "返回", "上一步", "后退"}
HOME_WORDS = {"home", "主页", "首页", "主菜单", "menu"}

_NUMBER = re.compile(r"^\s*([0-9０-９]{1,2})\s*[.、．]?\s*$")
_SENTENCE = re.compile(r"[^。！？；!?;.]+[。！？；!?;.]*\s*|[。！？；!?;.]+\s*")


@dataclass(frozen=True)
class Option:
    """One big button. ``label`` is translated and starts with an emoji (2–6 words)."""

    key: str
    label: str
    contact: bool = False  # the button shares the resident's own phone number
    location: bool = False  # the button shares the resident's location


@dataclass
class Screen:
    text: str
    options: list[Option] = field(default_factory=list)
    nav: bool = True  # Back and Home; only the home screen goes without
    paged: bool = True  # more than PAGE options get a "More" button


@dataclass
class Rendered:
    """What the resident sees now: the keyboard and what each button (or typed number) means."""

    markup: ReplyKeyboardMarkup
    keys: dict[str, str]  # button text or number -> option key ("" keys are nav: see engine)
    contact_key: str | None = None
    location_key: str | None = None
    has_more: bool = False


def numbered(n: int, label: str) -> str:
    return f"{n} {label}"


def render(screen: Screen, page: int = 0) -> Rendered:
    options = screen.options
    has_more = False
    if screen.paged and len(options) > PAGE:
        per_page = PAGE - 1
        pages = (len(options) + per_page - 1) // per_page
        page %= pages
        options = options[page * per_page:(page + 1) * per_page]
        has_more = True
    buttons: list[KeyboardButton] = []
    keys: dict[str, str] = {}
    contact_key = location_key = None
    for n, option in enumerate(options, start=1):
        text = numbered(n, option.label)
        buttons.append(KeyboardButton(text=text, request_contact=option.contact or None,
                                      request_location=option.location or None))
        keys[text] = keys[str(n)] = option.key
        if option.contact:
            contact_key = option.key
        if option.location:
            location_key = option.key
    if has_more:
        buttons.append(KeyboardButton(text=str(MORE)))
        keys[str(MORE)] = "@more"
    rows = [buttons[i:i + MAX_PER_ROW] for i in range(0, len(buttons), MAX_PER_ROW)]
    if screen.nav:
        rows.append([KeyboardButton(text=str(BACK)), KeyboardButton(text=str(HOME))])
        keys[str(BACK)] = "@back"
        keys[str(HOME)] = "@home"
    markup = ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True,
                                 input_field_placeholder=_("Tap a button below"))
    return Rendered(markup=markup, keys=keys, contact_key=contact_key, location_key=location_key,
                    has_more=has_more)


def resolve(keys: dict[str, str], text: str) -> str | None:
    """The option key of a pressed button or a typed number; Back and Home also by word."""
    text = text.strip()
    if text in keys:
        return keys[text]
    m = _NUMBER.match(text)
    if m:
        digits = m.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        return keys.get(str(int(digits)))
    word = text.casefold()
    if word in BACK_WORDS:
        return "@back"
    if word in HOME_WORDS:
        return "@home"
    return None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a text into messages of at most ``limit`` characters, between sentences where possible."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts = _SENTENCE.findall(text)
    out: list[str] = []
    cur = ""
    for part in parts:
        while len(part) > limit:  # one sentence longer than a message: cut it hard
            if cur:
                out.append(cur.strip())
                cur = ""
            out.append(part[:limit].strip())
            part = part[limit:]
        if len(cur) + len(part) > limit:
            out.append(cur.strip())
            cur = part
        else:
            cur += part
    if cur.strip():
        out.append(cur.strip())
    return [p for p in out if p]

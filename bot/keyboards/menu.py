"""The main menu (a reply keyboard, so it never scrolls away)."""

from __future__ import annotations

from aiogram.types import ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from bot.keyboards.requests import per_locale
from core.i18n import LOCALES

# Feature routers filter on these, e.g. ``F.text == MENU_FAULT``.
MENU_GUIDES = __("📚 Guides & checklists")
MENU_FAULT = __("🛠 Report a fault")
MENU_VISIT = __("📅 Book a visit")
MENU_BALANCE = __("💳 Balance & top-up")
MENU_OUTAGES = __("⚡ Outages")
MENU_REQUESTS = __("📋 My requests")
MENU_COMPLAINT = __("📝 Complaint")
MENU_HUMAN = __("👩‍💼 Talk to a person")
MENU_SETTINGS = __("⚙️ Settings")

MAIN_MENU = (
    MENU_GUIDES, MENU_FAULT,
    MENU_VISIT, MENU_BALANCE,
    MENU_OUTAGES, MENU_REQUESTS,
    MENU_COMPLAINT, MENU_HUMAN,
    MENU_SETTINGS,
)

# Extra texts that also count as "leave the current form" (features may register theirs).
ESCAPE_TEXTS: list = []


@per_locale  # the same for everyone: building it per update was a visible share of the cheap path (issue 13)
def main_menu() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    for item in MAIN_MENU:
        kb.button(text=str(item))
    kb.adjust(2)
    return kb.as_markup(resize_keyboard=True, is_persistent=True, input_field_placeholder=_("Type your question…"))


def is_menu_text(text: str) -> bool:
    """True if ``text`` is a menu button in any language."""
    return any(text in translations(item) for item in (*MAIN_MENU, *ESCAPE_TEXTS))


def translations(item: object) -> frozenset[str]:
    """A lazy menu text in every language (just the msgid outside a dispatcher)."""
    msgid = msgid_of(item)
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        return frozenset({msgid})
    key = (id(i18n), msgid)  # asked for every text message: translate once per catalogue
    found = _TRANSLATIONS.get(key)
    if found is None:
        found = _TRANSLATIONS[key] = frozenset(i18n.gettext(msgid, locale=loc) for loc in LOCALES)
    return found


_TRANSLATIONS: dict[tuple[int, str], frozenset[str]] = {}


def msgid_of(item: object) -> str:
    """The untranslated msgid behind a lazy string (babel's LazyProxy keeps its call arguments)."""
    args = getattr(item, "_args", None)
    return args[0] if args else str(item)

"""The ids of simple mode's pages, and which page each main-menu button leads to.

Kept apart from the pages so that navigation (entering simple mode at a page) and the pages themselves share
them without importing each other.
"""

from __future__ import annotations

from bot.keyboards import menu

HOME_ID = "home"
GUIDES, FAULT, VISIT, BALANCE = "guides", "fault", "visit", "balance"
OUTAGES, COMPLAINT, REQUESTS = "outages", "complaint", "requests"
MORE, PERSON, SETTINGS, LANGUAGE, GUIDE_TOPIC = "more", "person", "settings", "language", "guide.topic"
QUESTION_CHOICE, QUESTION_NONE = "question.choice", "question.none"

# A button of the normal main menu -> the simple-mode page that does the same.
MENU_PAGES = ((menu.MENU_GUIDES, GUIDES), (menu.MENU_FAULT, FAULT), (menu.MENU_VISIT, VISIT),
              (menu.MENU_BALANCE, BALANCE), (menu.MENU_OUTAGES, OUTAGES), (menu.MENU_REQUESTS, REQUESTS),
              (menu.MENU_COMPLAINT, COMPLAINT), (menu.MENU_HUMAN, PERSON), (menu.MENU_SETTINGS, SETTINGS))


def menu_page(text: str) -> str | None:
    """The page of a main-menu button's text (in any language), or None."""
    return next((page_id for item, page_id in MENU_PAGES if text in menu.translations(item)), None)


def entry_page(entry: object) -> str | None:
    """The page of a main-menu entry (its lazy text), or None."""
    msgid = menu.msgid_of(entry)
    return next((page_id for item, page_id in MENU_PAGES if menu.msgid_of(item) == msgid), None)

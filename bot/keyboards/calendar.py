"""Date and time-window pickers for visit booking: only days and windows with a free place are shown."""

from __future__ import annotations

from datetime import date

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton

from bot.keyboards.requests import Form, nav_buttons
from core.appointments import format_window
from core.slots import DaySlots, WindowFree


class DayCallback(CallbackData, prefix="apd"):
    d: str  # YYYYMMDD


class WindowCallback(CallbackData, prefix="apw"):
    w: str  # "09-12"


def pack_day(day: date) -> str:
    return day.strftime("%Y%m%d")


def unpack_day(value: str) -> date | None:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) == 8 else None
    except ValueError:
        return None


def _locale(lang: str | None) -> str:
    return "en" if lang == "en" else "zh_Hans"


def day_label(day: date, lang: str | None, *, long: bool = False) -> str:
    return format_skeleton("MMMEd" if long else "MEd", day, locale=_locale(lang))


def calendar_keyboard(days: list[DaySlots], lang: str | None, *, big: bool = False,
                      form: Form = Form.visit) -> InlineKeyboardMarkup:
    """One row per calendar week holding only that week's bookable days (guided mode: two big ones a row)."""
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    if big:
        for d in days:
            kb.button(text=day_label(d.day, lang, long=True), callback_data=DayCallback(d=pack_day(d.day)))
        sizes = [2] * ((len(days) + 1) // 2)
    else:
        week: tuple[int, int] | None = None
        for d in days:
            key = d.day.isocalendar()[:2]
            if key != week:
                sizes.append(0)
                week = key
            sizes[-1] += 1
            kb.button(text=day_label(d.day, lang), callback_data=DayCallback(d=pack_day(d.day)))
    nav_buttons(kb, form)
    kb.adjust(*sizes, 1)
    return kb.as_markup()


def windows_keyboard(windows: list[WindowFree], *, form: Form = Form.visit) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for w in windows:
        kb.button(text=f"🕘 {format_window(w.window)}", callback_data=WindowCallback(w=w.window))
    nav_buttons(kb, form)
    kb.adjust(*([1] * len(windows)), 1)
    return kb.as_markup()

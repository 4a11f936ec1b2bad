"""Settings: language and simple (guided) mode."""

from __future__ import annotations

from enum import StrEnum

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import message_of
from bot.keyboards.menu import MENU_SETTINGS
from bot.navigation import enter_guided, language_keyboard, menu_entry, show_menu
from core import residents
from core.context import AppContext
from db.models import Resident

router = Router(name=__name__)


class SettingsAction(StrEnum):
    language = "lang"
    guided_on = "g_on"
    guided_off = "g_off"


class SettingsCallback(CallbackData, prefix="set"):
    action: SettingsAction


def settings_keyboard(resident: Resident) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🌐 Language / 语言"), callback_data=SettingsCallback(action=SettingsAction.language))
    if resident.guided_mode:
        kb.button(text=_("🔠 Turn simple mode off"), callback_data=SettingsCallback(action=SettingsAction.guided_off))
    else:
        kb.button(text=_("🔠 Turn simple mode on"), callback_data=SettingsCallback(action=SettingsAction.guided_on))
    kb.adjust(1)
    return kb.as_markup()


def settings_text(resident: Resident) -> str:
    lang = "中文" if resident.language != "en" else "English"
    mode = _("on") if resident.guided_mode else _("off")
    return _("<b>Settings</b>\nLanguage: {lang}\nSimple mode (big buttons): {mode}").format(lang=lang, mode=mode)


@router.message(F.text == MENU_SETTINGS)
@menu_entry(MENU_SETTINGS)
async def on_settings(message: Message, resident: Resident) -> None:
    await message.answer(settings_text(resident), reply_markup=settings_keyboard(resident))


@router.callback_query(SettingsCallback.filter(F.action == SettingsAction.language))
async def on_change_language(query: CallbackQuery) -> None:
    await query.answer()
    await message_of(query).answer("请选择语言 / Please choose your language", reply_markup=language_keyboard())


@router.callback_query(SettingsCallback.filter(F.action.in_({SettingsAction.guided_on, SettingsAction.guided_off})))
async def on_toggle_guided(
    query: CallbackQuery, callback_data: SettingsCallback, state: FSMContext, session: AsyncSession,
    resident: Resident, ctx: AppContext, i18n: I18n,
) -> None:
    await residents.set_guided_mode(session, resident, callback_data.action is SettingsAction.guided_on)
    await query.answer(_("Saved."))
    await message_of(query).edit_text(settings_text(resident), reply_markup=settings_keyboard(resident))
    if resident.guided_mode:
        await enter_guided(message_of(query), state=state, session=session, resident=resident, ctx=ctx, i18n=i18n)
    else:
        await state.clear()
        await show_menu(message_of(query), resident)

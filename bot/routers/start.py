"""First contact, language choice, main menu, /help, /cancel — reachable from any state."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import GuidedOffer, GuidedOfferCallback, LanguageCallback
from bot.forms.buttons import message_of
from bot.navigation import enter_guided, guided_offer_keyboard, language_keyboard, show_menu
from core import residents
from core.context import AppContext
from db.models import Resident

router = Router(name=__name__)


@router.message(CommandStart())
async def on_start(message: Message, state: FSMContext, resident: Resident) -> None:
    await state.clear()
    if resident.language is None:
        # Bilingual on purpose: we do not know their language yet.
        await message.answer("您好！请选择语言。\nHello! Please choose your language.",
                             reply_markup=language_keyboard())
        return
    await show_menu(message, resident, _("Welcome back! How can we help you today?"))


@router.callback_query(LanguageCallback.filter())
async def on_language(
    query: CallbackQuery, callback_data: LanguageCallback, session: AsyncSession, resident: Resident, i18n: I18n
) -> None:
    first_time = resident.language is None
    await residents.set_language(session, resident, callback_data.code.value)
    i18n.ctx_locale.set(callback_data.code.value)  # the resident's language from now on
    await query.answer()
    message = message_of(query)
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(
        _("Hello! I am the Onestop assistant of your gas, water and power company. "
          "I can answer questions with complete checklists, take repair reports and appointments, "
          "show your balance and outages, and connect you with a person.")
    )
    await show_menu(message, resident)
    if first_time:
        await message.answer(
            _("Would you like simple mode? It uses big buttons, one question at a time, and you never need to type."),
            reply_markup=guided_offer_keyboard(),
        )


@router.callback_query(GuidedOfferCallback.filter())
async def on_guided_offer(
    query: CallbackQuery, callback_data: GuidedOfferCallback, state: FSMContext, session: AsyncSession,
    resident: Resident, ctx: AppContext, i18n: I18n,
) -> None:
    enabled = callback_data.choice is GuidedOffer.on
    await residents.set_guided_mode(session, resident, enabled)
    await query.answer()
    message = message_of(query)
    await message.edit_reply_markup(reply_markup=None)
    if enabled:
        await message.answer(_("Simple mode is on. You can switch it off in Settings."))
        await enter_guided(message, state=state, session=session, resident=resident, ctx=ctx, i18n=i18n)
    else:
        await message.answer(_("All right. You can turn on simple mode any time in Settings."))


@router.message(Command("menu"))
async def on_menu(message: Message, state: FSMContext, resident: Resident) -> None:
    await state.clear()
    await show_menu(message, resident)


@router.message(Command("cancel"))
@router.message(F.text.casefold().in_({"取消", "cancel"}))
async def on_cancel(message: Message, state: FSMContext, resident: Resident) -> None:
    had_form = await state.get_state() is not None
    await state.clear()
    text = _("Cancelled. Nothing was submitted.") if had_form else _("There is nothing to cancel.")
    await show_menu(message, resident, text)


@router.message(Command("help"))
async def on_help(message: Message, resident: Resident) -> None:
    await message.answer(
        _("<b>What I can do</b>\n"
          "• Ask me anything in your own words, e.g. “how do I transfer my gas account”.\n"
          "• 📚 Guides: complete checklists of documents and steps.\n"
          "• 🛠 Report a fault, 📅 book a home visit, 📝 make a complaint.\n"
          "• 💳 See your balance and top up; ⚡ see outages in your area.\n"
          "• 👩‍💼 Talk to a person at any time.\n\n"
          "Commands: /menu main menu, /cancel stop the current step, /help this help.")
    )
    await show_menu(message, resident)

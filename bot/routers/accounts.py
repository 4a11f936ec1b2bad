"""💳 Balance & top-up: linked accounts with their balance, linking with proof of ownership, unlink, alerts.

Linking (R15): the resident types the account number, then proves it is theirs by sharing their OWN
contact (the phone must match the phone on file) or typing the 6-digit code printed on the bill. Until
then nothing about the account is shown; an unknown number and a wrong proof get the same answer.
How an account is shown (texts, chart, buttons) is in bot/views/accounts.py, shared with other features.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, KeyboardButton, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AccountAction, AccountCallback
from bot.forms.buttons import message_of
from bot.keyboards import proxy as proxy_form
from bot.keyboards.menu import MENU_BALANCE, main_menu
from bot.navigation import menu_entry
from bot.views.accounts import (
    LinkForm,
    account_title,
    accounts_overview,
    ask_number,
    detail_keyboard,
    detail_text,
    edit_or_send,
    send_account,
)
from core import account_numbers, accounts
from core.accounts import LinkStatus
from core.clock import local
from core.context import AppContext
from db.enums import LinkMethod
from db.models import AccountLink, Resident

router = Router(name=__name__)


# --- list and detail -------------------------------------------------------------------------------------------


@router.message(F.text == MENU_BALANCE)
@menu_entry(MENU_BALANCE)
async def on_balance_menu(message: Message, session: AsyncSession, resident: Resident, ctx: AppContext,
                          i18n: I18n) -> None:
    text, markup = await accounts_overview(session, resident, ctx, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


@router.callback_query(AccountCallback.filter(F.action == AccountAction.list))
async def on_list(query: CallbackQuery, session: AsyncSession, resident: Resident, ctx: AppContext,
                  i18n: I18n) -> None:
    await query.answer()
    text, markup = await accounts_overview(session, resident, ctx, i18n.current_locale)
    await edit_or_send(query, text, markup)


async def _own_link(query: CallbackQuery, session: AsyncSession, resident: Resident,
                    account_id: int) -> AccountLink | None:
    """The resident's link, or a polite refusal for a stale or forged button (changes nothing)."""
    link = await accounts.get_link(session, resident.id, account_id)
    if link is None:
        await query.answer(_("This account is not linked to you (any more). Please open 💳 Balance & top-up."),
                           show_alert=True)
    return link


@router.callback_query(AccountCallback.filter(F.action == AccountAction.view))
async def on_view(query: CallbackQuery, callback_data: AccountCallback, session: AsyncSession, resident: Resident,
                  ctx: AppContext, i18n: I18n) -> None:
    link = await _own_link(query, session, resident, callback_data.account_id)
    if link is None:
        return
    await query.answer()
    await send_account(message_of(query), session, ctx, link, i18n.current_locale)


@router.callback_query(AccountCallback.filter(F.action.in_({AccountAction.alerts_on, AccountAction.alerts_off})))
async def on_alerts(query: CallbackQuery, callback_data: AccountCallback, session: AsyncSession,
                    resident: Resident, ctx: AppContext, i18n: I18n) -> None:
    enabled = callback_data.action is AccountAction.alerts_on
    link = await accounts.set_alerts(session, resident_id=resident.id, account_id=callback_data.account_id,
                                     enabled=enabled)
    if link is None:
        await _own_link(query, session, resident, callback_data.account_id)
        return
    # R11: only the low-credit alert is optional; the payment notice before a cut-off is always sent.
    await query.answer(_("Alerts are on. We will tell you when credit runs low or a bill is overdue.") if enabled
                       else _("Low-credit alerts are off. Payment notices for unpaid bills still reach you, "
                              "always before any cut-off."), show_alert=True)
    link = await accounts.get_link(session, resident.id, callback_data.account_id)  # loaded with its account
    if link is None:  # unlinked meanwhile, by a tap elsewhere
        return
    summary = await accounts.account_summary(session, link.account, now=ctx.clock.now())
    await edit_or_send(query, detail_text(link, summary, i18n.current_locale), detail_keyboard(link, summary))


@router.callback_query(AccountCallback.filter(F.action == AccountAction.unlink))
async def on_unlink(query: CallbackQuery, callback_data: AccountCallback, session: AsyncSession,
                    resident: Resident) -> None:
    link = await _own_link(query, session, resident, callback_data.account_id)
    if link is None:
        return
    await query.answer()
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Yes, unlink it"), callback_data=AccountCallback(action=AccountAction.unlink_yes,
                                                                      account_id=link.account_id))
    kb.button(text=_("No, keep it"), callback_data=AccountCallback(action=AccountAction.view,
                                                                  account_id=link.account_id))
    kb.adjust(2)
    await message_of(query).answer(
        _("Unlink {title}? You will no longer see its balance or get its alerts here. "
          "You can link it again at any time.").format(title=account_title(link.account)),
        reply_markup=kb.as_markup())


@router.callback_query(AccountCallback.filter(F.action == AccountAction.unlink_yes))
async def on_unlink_yes(query: CallbackQuery, callback_data: AccountCallback, session: AsyncSession,
                        resident: Resident, ctx: AppContext) -> None:
    link = await _own_link(query, session, resident, callback_data.account_id)
    if link is None:
        return
    title = account_title(link.account)
    await accounts.unlink(session, resident_id=resident.id, account_id=link.account_id, now=ctx.clock.now())
    await query.answer()
    await edit_or_send(query, _("{title} is unlinked.").format(title=title), None)


# --- linking ---------------------------------------------------------------------------------------------------


def locked_text(until, lang: str) -> str:
    return _("For your security, linking is paused after several unsuccessful attempts. Please try again after "
             "{time}, or visit a service hall with your ID card.").format(time=local(until).strftime("%H:%M"))


def proof_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.add(KeyboardButton(text=_("📱 Share my phone number"), request_contact=True))
    kb.add(KeyboardButton(text=_("Cancel")))
    kb.adjust(1)
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True,
                        input_field_placeholder=_("6-digit code from your bill"))


@router.callback_query(AccountCallback.filter(F.action == AccountAction.link))
async def on_link(query: CallbackQuery, state: FSMContext, resident: Resident, ctx: AppContext,
                  i18n: I18n) -> None:
    await query.answer()
    until = accounts.locked_until(resident, ctx.clock.now())
    if until is not None:
        await message_of(query).answer(locked_text(until, i18n.current_locale))
        return
    await state.clear()
    kb = InlineKeyboardBuilder()
    kb.button(text=_("My own account"), callback_data=AccountCallback(action=AccountAction.relation_self))
    kb.button(text=_("A relative's account (I help them)"),
              callback_data=AccountCallback(action=AccountAction.relation_relative))
    kb.adjust(1)
    await message_of(query).answer(_("Whose account would you like to link?"), reply_markup=kb.as_markup())


@router.callback_query(AccountCallback.filter(F.action.in_({AccountAction.relation_self,
                                                            AccountAction.relation_relative})))
async def on_relation(query: CallbackQuery, callback_data: AccountCallback, state: FSMContext, resident: Resident,
                      ctx: AppContext, i18n: I18n) -> None:
    await query.answer()
    until = accounts.locked_until(resident, ctx.clock.now())
    if until is not None:
        await message_of(query).answer(locked_text(until, i18n.current_locale))
        return
    relative = callback_data.action is AccountAction.relation_relative
    await state.update_data(relation="relative" if relative else "self")
    if relative:  # R16: the relation and the four documents first (bot/routers/proxy.py), then the number
        await proxy_form.ask_relation(message_of(query), state)
        return
    await ask_number(message_of(query), state, relative=False)


@router.message(LinkForm.number, F.text)
async def on_number(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                    ctx: AppContext, i18n: I18n) -> None:
    number = account_numbers.clean((message.text or "")[:64])  # registered with F.text: never empty here
    if not account_numbers.is_valid(number):
        await message.answer(_("That does not look like an account number. It has 10 digits and is printed at the "
                               "top of your bill. Please check it and type it again, or send /cancel."))
        return
    until = accounts.locked_until(resident, ctx.clock.now())
    if until is not None:
        await state.clear()
        await message.answer(locked_text(until, i18n.current_locale), reply_markup=main_menu())
        return
    existing = await accounts.own_link_by_number(session, resident.id, number)
    if existing is not None:
        await state.clear()
        await message.answer(_("This account is already linked to you."), reply_markup=main_menu())
        await send_account(message, session, ctx, existing, i18n.current_locale)
        return
    await state.update_data(number=number)
    await state.set_state(LinkForm.proof)
    await message.answer(
        _("Now please prove the account is yours, in one of two ways:\n"
          "• tap “📱 Share my phone number” below: it must be the phone number on file for the account;\n"
          "• or type the 6-digit verification code printed on your bill.\n"
          "We show nothing about the account until it is verified."),
        reply_markup=proof_keyboard())


@router.message(LinkForm.number)
async def on_number_other(message: Message) -> None:
    await message.answer(_("Please type the 10-digit account number as text, or send /cancel."))


async def _finish_link(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                       ctx: AppContext, i18n: I18n, *, method: LinkMethod, proof: str) -> None:
    data = await state.get_data()
    number = data.get("number")
    if not number:  # the form expired
        await state.clear()
        await message.answer(_("Sorry, that took too long. Please start again."), reply_markup=main_menu())
        return
    result = await accounts.verify_and_link(session, resident=resident, number=number, method=method, proof=proof,
                                            now=ctx.clock.now(), relation=data.get("relation", "self"))
    lang = i18n.current_locale
    if result.status is LinkStatus.locked:
        await state.clear()
        await message.answer(locked_text(result.locked_until, lang), reply_markup=main_menu())
        return
    if result.status is LinkStatus.not_verified:
        await message.answer(
            _("We could not verify this account with the details given. Please check the account number, the "
              "phone number on file or the code on your bill. Attempts left: {left}.").format(
                left=result.attempts_left),
            reply_markup=proof_keyboard())
        return
    await state.clear()
    if result.status is LinkStatus.linked:
        await message.answer(_("✅ Verified. The account is now linked to you."), reply_markup=main_menu())
    else:
        await message.answer(_("This account is already linked to you."), reply_markup=main_menu())
    if result.link is not None:  # set for a linked (or already linked) account
        await send_account(message, session, ctx, result.link, lang)


@router.message(LinkForm.proof, F.contact)
async def on_contact(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                     ctx: AppContext, i18n: I18n) -> None:
    contact = message.contact
    assert contact is not None  # registered with F.contact
    # The resident is the sender: ResidentMiddleware stores them under the update's user id.
    own = contact.user_id is not None and contact.user_id == resident.id
    if not own:
        # Someone else's contact proves nothing about the sender; it counts as a failed attempt.
        await message.answer(_("Please share your own phone number with the button below; "
                               "a contact from your address book cannot be used."))
    await _finish_link(message, state, session, resident, ctx, i18n, method=LinkMethod.contact,
                       proof=contact.phone_number if own else "")


@router.message(LinkForm.proof, F.text.regexp(r"^\s*\d{6}\s*$"))
async def on_code(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                  ctx: AppContext, i18n: I18n) -> None:
    await _finish_link(message, state, session, resident, ctx, i18n, method=LinkMethod.bill_code,
                       proof=(message.text or "").strip())  # the filter matched six digits


@router.message(LinkForm.proof)
async def on_proof_other(message: Message) -> None:
    await message.answer(_("Please tap “📱 Share my phone number” or type the 6-digit code from your bill "
                           "(digits only). Send /cancel to stop."), reply_markup=proof_keyboard())

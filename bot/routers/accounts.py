"""💳 Balance & top-up: linked accounts with their balance, linking with proof of ownership, unlink, alerts.

Linking (R15): the resident types the account number, then proves it is theirs by sharing their OWN
contact (the phone must match the phone on file) or typing the 6-digit code printed on the bill. Until
then nothing about the account is shown; an unknown number and a wrong proof get the same answer.
"""

from __future__ import annotations

import asyncio
import html
from enum import StrEnum

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards import proxy as proxy_form
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import MENU_BALANCE, main_menu
from bot.routers import reconnection
from core import account_numbers, accounts, charts, ledger
from core.accounts import AccountSummary, LinkStatus
from core.clock import local
from core.context import AppContext
from db.enums import AccountState, LinkMethod, MeterType, Utility
from db.models import AccountLink, Resident, UtilityAccount

router = Router(name=__name__)


class AccountAction(StrEnum):
    list = "list"
    view = "view"
    link = "link"
    relation_self = "self"
    relation_relative = "rel"
    unlink = "unlink"
    unlink_yes = "unlink_yes"
    alerts_on = "al_on"
    alerts_off = "al_off"


class AccountCallback(CallbackData, prefix="acc"):
    action: AccountAction
    account_id: CallbackInt = 0


class LinkForm(StatesGroup):
    number = State()
    proof = State()


def balance_button() -> InlineKeyboardButton:
    """"My balance" for other features' keyboards (e.g. a topic's show_balance action)."""
    data = AccountCallback(action=AccountAction.list).pack()
    return InlineKeyboardButton(text=_("💳 My balance"), callback_data=data)


# --- presentation ----------------------------------------------------------------------------------------------


def utility_name(utility: Utility) -> str:
    return _(accounts.UTILITY_LABELS[utility])


def account_title(account: UtilityAccount | AccountSummary) -> str:
    return f"{accounts.UTILITY_ICONS[account.utility]} {utility_name(account.utility)} {account.number}"


def days_text(summary: AccountSummary) -> str:
    if summary.days_left is None:
        return _("not enough history yet to estimate")
    if summary.days_left > 365:
        return _("more than a year")
    return _("about {days} days").format(days=summary.days_left)


def balance_text(summary: AccountSummary, lang: str) -> str:
    if summary.balance_fen < 0:
        return _("⚠️ Arrears: <b>{amount}</b>").format(amount=ledger.format_fen(summary.arrears_fen, lang))
    return _("Balance (prepaid credit): <b>{amount}</b>").format(amount=ledger.format_fen(summary.credit_fen, lang))


def summary_line(summary: AccountSummary, lang: str) -> str:
    """One line of the accounts list."""
    head = f"{account_title(summary)} · {html.escape(summary.holder_masked)}"
    if summary.balance_fen < 0:
        tail = _("arrears {amount}").format(amount=ledger.format_fen(summary.arrears_fen, lang))
    elif summary.days_left is not None:
        tail = _("credit {amount} ({days})").format(amount=ledger.format_fen(summary.credit_fen, lang),
                                                    days=days_text(summary))
    else:
        tail = _("credit {amount}").format(amount=ledger.format_fen(summary.credit_fen, lang))
    return f"{head}\n    {tail}"


def detail_text(link: AccountLink, summary: AccountSummary, lang: str) -> str:
    account = link.account
    u = account.utility
    lines = [
        f"<b>{account_title(account)}</b>",
        _("Holder: {name}").format(name=html.escape(summary.holder_masked)),
        _("Address: {address}").format(address=html.escape(accounts.format_address(account, lang))),
        _("Meter: {meter}").format(meter=_(accounts.METER_LABELS[account.meter_type])),
        _("Account state: {state}").format(state=_(accounts.STATE_LABELS[account.state])),
        "",
        balance_text(summary, lang),
    ]
    if summary.last_payment_fen is not None and summary.last_payment_at is not None:
        lines.append(_("Last payment: {amount} on {date}").format(
            amount=ledger.format_fen(summary.last_payment_fen, lang),
            date=accounts.format_day(summary.last_payment_at, lang)))
    if summary.last_reading_on is not None:
        lines.append(_("Last reading: {value} on {date} (used {usage})").format(
            value=accounts.format_quantity(summary.last_reading_milli or 0, u, lang),
            date=accounts.format_day(summary.last_reading_on, lang),
            usage=accounts.format_quantity(summary.last_usage_milli or 0, u, lang)))
    if summary.avg_daily_use_milli:
        lines.append(_("Average use: {quantity} a day").format(
            quantity=accounts.format_quantity(summary.avg_daily_use_milli, u, lang)))
    if summary.balance_fen > 0:
        if summary.avg_daily_cost_fen:
            lines.append(_("Credit lasts: {days} (about {cost} a day)").format(
                days=days_text(summary), cost=ledger.format_fen(round(summary.avg_daily_cost_fen), lang)))
        else:
            lines.append(_("Credit lasts: {days}").format(days=days_text(summary)))
    if summary.balance_fen < 0:
        lines.append(_("Please pay the arrears. After paying, a sealed supply is reconnected in order of "
                       "registration for reconnection."))
    if account.meter_type is MeterType.ic_card:
        lines.append(_("💳 IC-card meter: money paid online must then be loaded onto your card at a service hall "
                       "or a self-service terminal."))
    lines.append("")
    if link.relation == "relative":
        lines.append(_("Linked as a relative's account (proxy service)."))
    lines.append(_("🔔 Alerts: on") if link.alerts_enabled else _("🔕 Alerts: off"))
    return "\n".join(lines)


def detail_keyboard(link: AccountLink, summary: AccountSummary) -> InlineKeyboardMarkup:
    from bot.routers.tariff import TariffAction, TariffCallback
    from bot.routers.topup import TopupAction, TopupCallback

    account_id = link.account_id
    kb = InlineKeyboardBuilder()
    if link.account.state not in accounts.TOPUP_BLOCKED_STATES:
        kb.button(text=_("💳 Top up"), callback_data=TopupCallback(action=TopupAction.start, account_id=account_id))
    if link.account.state is AccountState.sealed:  # R11: after paying, register for reconnection
        kb.button(text=reconnection.button_text(),
                  callback_data=reconnection.ReconnectCallback(account_id=account_id))
    if link.alerts_enabled:
        kb.button(text=_("🔕 Turn alerts off"), callback_data=AccountCallback(action=AccountAction.alerts_off,
                                                                             account_id=account_id))
    else:
        kb.button(text=_("🔔 Turn on low-credit alerts"),
                  callback_data=AccountCallback(action=AccountAction.alerts_on, account_id=account_id))
    yearly = sum(m.usage_milli for m in summary.months) // 1000
    if link.account.utility is Utility.water and yearly > 0:
        kb.button(text=_("🧮 My yearly water bill at tiered prices"),
                  callback_data=TariffCallback(action=TariffAction.quote, household=link.account.household_size or 4,
                                               volume=yearly))
    kb.button(text=_("🔗 Unlink"), callback_data=AccountCallback(action=AccountAction.unlink, account_id=account_id))
    kb.button(text=_("⬅️ All my accounts"), callback_data=AccountCallback(action=AccountAction.list))
    kb.adjust(1)
    return kb.as_markup()


def chart_png(summary: AccountSummary, lang: str) -> bytes:
    from core.tariffs import load_tariffs

    unit = load_tariffs().unit(summary.utility, lang)
    latin_unit = load_tariffs().unit(summary.utility, "en")
    title = _("{utility} use, last 12 months").format(utility=utility_name(summary.utility))
    latin = f"{summary.utility.value.capitalize()} use, last 12 months"
    months = [(m.month.year, m.month.month, m.usage_milli / 1000) for m in summary.months]
    return charts.usage_chart_png(months, utility=summary.utility, lang=lang, title=title, latin_title=latin,
                                  unit=unit, latin_unit=latin_unit, avg_label=_("average"))


async def _edit_or_send(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest:  # a photo, too old to edit, or unchanged: send afresh
        await query.message.answer(text, reply_markup=markup)


# --- list and detail -------------------------------------------------------------------------------------------


async def accounts_overview(session: AsyncSession, resident: Resident, ctx: AppContext,
                            lang: str) -> tuple[str, InlineKeyboardMarkup]:
    links = await accounts.links_of(session, resident.id)
    kb = InlineKeyboardBuilder()
    if not links:
        text = _("<b>Balance & top-up</b>\nYou have not linked an account yet. Link one to see its balance, "
                 "top up and get alerts.\nYou need the 10-digit account number printed on your bill, and either "
                 "the phone number on file for the account or the 6-digit verification code on the bill.")
    else:
        now = ctx.clock.now()
        lines = [_("<b>Your accounts</b>")]
        for link in links:
            summary = await accounts.account_summary(session, link.account, now=now)
            lines.append(summary_line(summary, lang))
            kb.button(text=f"{accounts.UTILITY_ICONS[link.account.utility]} {link.account.number}",
                      callback_data=AccountCallback(action=AccountAction.view, account_id=link.account_id))
        lines.append(_("Choose an account for details, a chart of your use and top-up."))
        text = "\n".join(lines)
    kb.button(text=_("➕ Link an account"), callback_data=AccountCallback(action=AccountAction.link))
    kb.adjust(1)
    return text, kb.as_markup()


@router.message(F.text == MENU_BALANCE)
async def on_balance_menu(message: Message, session: AsyncSession, resident: Resident, ctx: AppContext,
                          i18n: I18n) -> None:
    text, markup = await accounts_overview(session, resident, ctx, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


@router.callback_query(AccountCallback.filter(F.action == AccountAction.list))
async def on_list(query: CallbackQuery, session: AsyncSession, resident: Resident, ctx: AppContext,
                  i18n: I18n) -> None:
    await query.answer()
    text, markup = await accounts_overview(session, resident, ctx, i18n.current_locale)
    await _edit_or_send(query, text, markup)


async def send_account(message: Message, session: AsyncSession, ctx: AppContext, link: AccountLink,
                       lang: str) -> None:
    """The balance view: the usage chart (if there are readings), then the details with their buttons."""
    summary = await accounts.account_summary(session, link.account, now=ctx.clock.now())
    if any(m.usage_milli for m in summary.months):
        png = await asyncio.to_thread(chart_png, summary, lang)  # Pillow work off the event loop
        await message.answer_photo(BufferedInputFile(png, filename=f"usage-{summary.number}.png"),
                                   caption=_("{title}: use in the last 12 months").format(
                                       title=account_title(summary)))
    await message.answer(detail_text(link, summary, lang), reply_markup=detail_keyboard(link, summary))


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
    await send_account(query.message, session, ctx, link, i18n.current_locale)


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
    link = await accounts.get_link(session, resident.id, callback_data.account_id)
    summary = await accounts.account_summary(session, link.account, now=ctx.clock.now())
    await _edit_or_send(query, detail_text(link, summary, i18n.current_locale), detail_keyboard(link, summary))


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
    await query.message.answer(
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
    await _edit_or_send(query, _("{title} is unlinked.").format(title=title), None)


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
        await query.message.answer(locked_text(until, i18n.current_locale))
        return
    await state.clear()
    kb = InlineKeyboardBuilder()
    kb.button(text=_("My own account"), callback_data=AccountCallback(action=AccountAction.relation_self))
    kb.button(text=_("A relative's account (I help them)"),
              callback_data=AccountCallback(action=AccountAction.relation_relative))
    kb.adjust(1)
    await query.message.answer(_("Whose account would you like to link?"), reply_markup=kb.as_markup())


@router.callback_query(AccountCallback.filter(F.action.in_({AccountAction.relation_self,
                                                            AccountAction.relation_relative})))
async def on_relation(query: CallbackQuery, callback_data: AccountCallback, state: FSMContext, resident: Resident,
                      ctx: AppContext, i18n: I18n) -> None:
    await query.answer()
    until = accounts.locked_until(resident, ctx.clock.now())
    if until is not None:
        await query.message.answer(locked_text(until, i18n.current_locale))
        return
    relative = callback_data.action is AccountAction.relation_relative
    await state.update_data(relation="relative" if relative else "self")
    if relative:  # R16: the relation and the four documents first (bot/routers/proxy.py), then the number
        await proxy_form.ask_relation(query.message, state)
        return
    await ask_number(query.message, state, relative=False)


async def ask_number(message: Message, state: FSMContext, *, relative: bool) -> None:
    await state.set_state(LinkForm.number)
    text = _("Please type the 10-digit account number printed at the top of the bill.")
    if relative:
        text += "\n" + _("For a relative's account, the easiest proof is the 6-digit verification code on their "
                         "bill. To do business for them at a counter, bring your ID, their ID and proof of your "
                         "relationship.")
    await message.answer(text)


@router.message(LinkForm.number, F.text)
async def on_number(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                    ctx: AppContext, i18n: I18n) -> None:
    number = account_numbers.clean(message.text[:64])
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
    await send_account(message, session, ctx, result.link, lang)


@router.message(LinkForm.proof, F.contact)
async def on_contact(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                     ctx: AppContext, i18n: I18n) -> None:
    own = message.contact.user_id is not None and message.contact.user_id == message.from_user.id
    if not own:
        # Someone else's contact proves nothing about the sender; it counts as a failed attempt.
        await message.answer(_("Please share your own phone number with the button below; "
                               "a contact from your address book cannot be used."))
    await _finish_link(message, state, session, resident, ctx, i18n, method=LinkMethod.contact,
                       proof=message.contact.phone_number if own else "")


@router.message(LinkForm.proof, F.text.regexp(r"^\s*\d{6}\s*$"))
async def on_code(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                  ctx: AppContext, i18n: I18n) -> None:
    await _finish_link(message, state, session, resident, ctx, i18n, method=LinkMethod.bill_code,
                       proof=message.text.strip())


@router.message(LinkForm.proof)
async def on_proof_other(message: Message) -> None:
    await message.answer(_("Please tap “📱 Share my phone number” or type the 6-digit code from your bill "
                           "(digits only). Send /cancel to stop."), reply_markup=proof_keyboard())

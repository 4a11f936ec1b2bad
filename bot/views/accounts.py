"""An account as the bot shows it: title, balance, details with their buttons, the usage chart, the list of
linked accounts, and the first step of linking one. Used by the balance, top-up, payment, proxy and tariff
routers and by simple mode."""

from __future__ import annotations

import asyncio
import html

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import (
    AccountAction,
    AccountCallback,
    ReconnectCallback,
    TariffAction,
    TariffCallback,
    TopupAction,
    TopupCallback,
)
from bot.forms.buttons import message_of
from core import accounts, charts, ledger
from core.accounts import AccountSummary, household_of
from core.context import AppContext
from core.tariffs import load_tariffs
from db.enums import AccountState, MeterType, Utility
from db.models import AccountLink, Resident, UtilityAccount


class LinkForm(StatesGroup):
    number = State()
    proof = State()


def reconnect_button_text() -> str:
    return _("🔌 Register for reconnection / my place in the queue")


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
    account_id = link.account_id
    kb = InlineKeyboardBuilder()
    if link.account.state not in accounts.TOPUP_BLOCKED_STATES:
        kb.button(text=_("💳 Top up"), callback_data=TopupCallback(action=TopupAction.start, account_id=account_id))
    if link.account.state is AccountState.sealed:  # R11: after paying, register for reconnection
        kb.button(text=reconnect_button_text(), callback_data=ReconnectCallback(account_id=account_id))
    if link.alerts_enabled:
        kb.button(text=_("🔕 Turn alerts off"), callback_data=AccountCallback(action=AccountAction.alerts_off,
                                                                             account_id=account_id))
    else:
        kb.button(text=_("🔔 Turn on low-credit alerts"),
                  callback_data=AccountCallback(action=AccountAction.alerts_on, account_id=account_id))
    yearly = sum(m.usage_milli for m in summary.months) // 1000
    if link.account.utility is Utility.water and yearly > 0:
        kb.button(text=_("🧮 My yearly water bill at tiered prices"),
                  callback_data=TariffCallback(action=TariffAction.quote, household=household_of(link.account),
                                               volume=yearly))
    kb.button(text=_("🔗 Unlink"), callback_data=AccountCallback(action=AccountAction.unlink, account_id=account_id))
    kb.button(text=_("⬅️ All my accounts"), callback_data=AccountCallback(action=AccountAction.list))
    kb.adjust(1)
    return kb.as_markup()


def chart_png(summary: AccountSummary, lang: str) -> bytes:
    unit = load_tariffs().unit(summary.utility, lang)
    latin_unit = load_tariffs().unit(summary.utility, "en")
    title = _("{utility} use, last 12 months").format(utility=utility_name(summary.utility))
    latin = f"{summary.utility.value.capitalize()} use, last 12 months"
    months = [(m.month.year, m.month.month, m.usage_milli / 1000) for m in summary.months]
    return charts.usage_chart_png(months, utility=summary.utility, lang=lang, title=title, latin_title=latin,
                                  unit=unit, latin_unit=latin_unit, avg_label=_("average"))


async def chart_photo(summary: AccountSummary, lang: str) -> BufferedInputFile | None:
    """The 12-month usage chart as a photo to send, or None without readings (Pillow work off the event loop)."""
    if not any(m.usage_milli for m in summary.months):
        return None
    png = await asyncio.to_thread(chart_png, summary, lang)
    return BufferedInputFile(png, filename=f"usage-{summary.number}.png")


async def edit_or_send(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message_of(query).edit_text(text, reply_markup=markup)
    except TelegramBadRequest:  # a photo, too old to edit, or unchanged: send afresh
        await message_of(query).answer(text, reply_markup=markup)


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


async def send_account(message: Message, session: AsyncSession, ctx: AppContext, link: AccountLink,
                       lang: str) -> None:
    """The balance view: the usage chart (if there are readings), then the details with their buttons."""
    summary = await accounts.account_summary(session, link.account, now=ctx.clock.now())
    photo = await chart_photo(summary, lang)
    if photo is not None:
        await message.answer_photo(photo, caption=_("{title}: use in the last 12 months").format(
            title=account_title(summary)))
    await message.answer(detail_text(link, summary, lang), reply_markup=detail_keyboard(link, summary))


async def ask_number(message: Message, state: FSMContext, *, relative: bool) -> None:
    """Linking, first step: the account number (after the proxy questions, for a relative's account)."""
    await state.set_state(LinkForm.number)
    text = _("Please type the 10-digit account number printed at the top of the bill.")
    if relative:
        text += "\n" + _("For a relative's account, the easiest proof is the 6-digit verification code on their "
                         "bill. To do business for them at a counter, bring your ID, their ID and proof of your "
                         "relationship.")
    await message.answer(text)

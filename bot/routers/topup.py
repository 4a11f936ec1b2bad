"""Top-up (prepayment) with Telegram Payments: amount -> invoice.

The pre-checkout check and the receipt are handled in bot/routers/payments.py, which comes before every
other router so that no state or chat can swallow a payment (issue 13); the invoice itself is sent by
bot/views/topup.py, as simple mode sends the same one.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AccountAction, AccountCallback, TopupAction, TopupCallback
from bot.forms.buttons import message_of
from bot.views.accounts import account_title, accounts_overview, balance_text
from bot.views.topup import problem_text, send_invoice
from core import accounts, ledger
from core.accounts import TopupProblem
from core.context import AppContext
from core.tariffs import load_tariffs
from db.models import Resident

log = logging.getLogger(__name__)
router = Router(name=__name__)


class TopupForm(StatesGroup):
    amount = State()


def parse_amount(text: str) -> int | None:
    """What residents type: "200", "¥88.50", "150元", "１００" -> fen; None if it is not an amount."""
    text = text.translate(str.maketrans("０１２３４５６７８９．", "0123456789.")).strip()
    text = re.sub(r"^(?:¥|￥|rmb|cny)\s*|\s*(?:元|块|yuan|rmb|cny)$", "", text, flags=re.IGNORECASE).replace(",", "")
    if not re.fullmatch(r"\d{1,7}(?:\.\d{1,2})?", text):
        return None
    return int(Decimal(text) * 100)


@router.callback_query(TopupCallback.filter(F.action == TopupAction.start))
async def on_start(query: CallbackQuery, callback_data: TopupCallback, session: AsyncSession, resident: Resident,
                   ctx: AppContext, i18n: I18n, state: FSMContext) -> None:
    lang = i18n.current_locale
    if callback_data.account_id == 0:
        await query.answer()
        text, markup = await accounts_overview(session, resident, ctx, lang)
        await message_of(query).answer(text, reply_markup=markup)
        return
    link = await accounts.get_link(session, resident.id, callback_data.account_id)
    if link is None:
        await query.answer(problem_text(TopupProblem.not_linked, 0, 0, lang), show_alert=True)
        return
    account = link.account
    if account.state in accounts.TOPUP_BLOCKED_STATES:
        await query.answer(problem_text(TopupProblem.closed, 0, 0, lang), show_alert=True)
        return
    await query.answer()
    await state.clear()
    summary = await accounts.account_summary(session, account, now=ctx.clock.now())
    low, high = accounts.topup_limits(summary.balance_fen)
    kb = InlineKeyboardBuilder()
    if summary.arrears_fen:
        kb.button(text=_("Pay the arrears: {amount}").format(amount=ledger.format_fen(summary.arrears_fen, lang)),
                  callback_data=TopupCallback(action=TopupAction.amount, account_id=account.id,
                                              amount_fen=summary.arrears_fen))
    for fen in load_tariffs().topup.presets_fen:
        if low <= fen <= high and fen != summary.arrears_fen:
            kb.button(text=ledger.format_fen(fen, lang),
                      callback_data=TopupCallback(action=TopupAction.amount, account_id=account.id, amount_fen=fen))
    kb.button(text=_("✏️ Another amount"), callback_data=TopupCallback(action=TopupAction.other,
                                                                      account_id=account.id))
    kb.button(text=_("⬅️ Back"), callback_data=AccountCallback(action=AccountAction.view, account_id=account.id))
    kb.adjust(1, 2, 2, 1, 1) if summary.arrears_fen else kb.adjust(2, 2, 1, 1)
    text = _("<b>Top up {title}</b>\n{balance}\nChoose how much to pay ({low} to {high}):").format(
        title=account_title(account), balance=balance_text(summary, lang), low=ledger.format_fen(low, lang),
        high=ledger.format_fen(high, lang))
    await message_of(query).answer(text, reply_markup=kb.as_markup())


@router.callback_query(TopupCallback.filter(F.action == TopupAction.other))
async def on_other(query: CallbackQuery, callback_data: TopupCallback, session: AsyncSession, resident: Resident,
                   state: FSMContext, i18n: I18n) -> None:
    link = await accounts.get_link(session, resident.id, callback_data.account_id)
    if link is None:
        await query.answer(problem_text(TopupProblem.not_linked, 0, 0, i18n.current_locale), show_alert=True)
        return
    await query.answer()
    await state.set_state(TopupForm.amount)
    await state.update_data(account_id=link.account_id)
    await message_of(query).answer(_("How much would you like to pay? Type the amount in yuan, e.g. 150 or 88.50."))


@router.message(TopupForm.amount, F.text)
async def on_amount_typed(message: Message, state: FSMContext, session: AsyncSession, resident: Resident,
                          ctx: AppContext, i18n: I18n) -> None:
    amount = parse_amount((message.text or "")[:64])  # F.text: never empty here
    if amount is None:
        await message.answer(_("Please type just the amount in yuan, e.g. 150 or 88.50, or send /cancel."))
        return
    account_id = (await state.get_data()).get("account_id", 0)
    if await send_invoice(message, session, ctx, resident, account_id, amount, i18n.current_locale):
        await state.clear()


@router.message(TopupForm.amount)
async def on_amount_other(message: Message) -> None:
    await message.answer(_("Please type just the amount in yuan, e.g. 150 or 88.50, or send /cancel."))


@router.callback_query(TopupCallback.filter(F.action == TopupAction.amount))
async def on_amount(query: CallbackQuery, callback_data: TopupCallback, session: AsyncSession, resident: Resident,
                    ctx: AppContext, i18n: I18n) -> None:
    await query.answer()
    await send_invoice(message_of(query), session, ctx, resident, callback_data.account_id, callback_data.amount_fen,
                        i18n.current_locale)

"""Telegram Payments: the pre-checkout answer and the receipt. Included FIRST in the Dispatcher (issue 13).

A payment is never swallowed: whatever the resident is doing — a chat with staff queued or active, the middle
of any form (normal or simple mode), tapping a stale keyboard — ``pre_checkout_query`` and ``successful_payment``
come here before any other router, and carry no state filter. Telegram has already charged the resident when
``successful_payment`` arrives, so a payment that cannot be matched to an account is kept for staff as an
unmatched payment (audit ``payment.unmatched``) and the resident gets a reference.

The pre-checkout answer re-checks everything (the resident still has the link, the account takes credit, the
amount is within limits), because an invoice can be paid long after it was sent. A successful payment is
recorded exactly once: LedgerEntry.telegram_charge_id is unique, so a replayed update gets the same receipt and
adds nothing.
"""

from __future__ import annotations

import html
import logging

from aiogram import F, Router
from aiogram.types import Message, PreCheckoutQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AccountAction, AccountCallback, ReconnectCallback
from bot.views.accounts import account_title, reconnect_button_text
from bot.views.topup import CURRENCY, parse_payload, problem_text
from core import accounts, alerts, audit, ledger
from core.context import AppContext
from db.enums import AccountState, MeterType
from db.models import Resident, UtilityAccount

log = logging.getLogger(__name__)
router = Router(name=__name__)


@router.pre_checkout_query()
async def on_pre_checkout(query: PreCheckoutQuery, session: AsyncSession, i18n: I18n) -> None:
    """Telegram waits at most 10 s for this answer: check, answer, nothing else."""
    lang = i18n.current_locale
    parsed = parse_payload(query.invoice_payload)
    if parsed is None or query.currency != CURRENCY or parsed[1] != query.total_amount:
        await query.answer(ok=False, error_message=_("Sorry, this invoice is not valid any more. "
                                                     "Please start the top-up again."))
        return
    account_id, amount = parsed
    check = await accounts.check_topup(session, resident_id=query.from_user.id, account_id=account_id,
                                       amount_fen=amount)
    if check.problem is not None:
        await query.answer(ok=False, error_message=problem_text(check.problem, check.min_fen, check.max_fen, lang))
        return
    await query.answer(ok=True)


@router.message(F.successful_payment)
async def on_paid(message: Message, session: AsyncSession, ctx: AppContext, i18n: I18n,
                  resident: Resident | None = None) -> None:
    payment = message.successful_payment
    assert payment is not None  # registered with F.successful_payment
    lang = i18n.current_locale
    now = ctx.clock.now()
    parsed = parse_payload(payment.invoice_payload)
    account = await session.get(UtilityAccount, parsed[0]) if parsed else None
    if account is None or payment.currency != CURRENCY or payment.total_amount <= 0:
        # Money was taken but we cannot tell for which account: keep the facts for staff (no personal data).
        audit.record(session, at=now, staff_id=None, action="payment.unmatched", target_type="telegram_charge",
                     target_id=payment.telegram_payment_charge_id, amount=payment.total_amount,
                     currency=payment.currency,
                     resident_id=resident.id if resident else message.chat.id)
        await session.commit()
        log.error("unmatched Telegram payment %s", payment.telegram_payment_charge_id)
        await message.answer(_("We received your payment, but could not match it to an account. Nothing is lost: "
                               "staff will apply it and contact you. Reference: {ref}").format(
            ref=html.escape(payment.telegram_payment_charge_id)))
        return
    # The amount actually paid is what counts, whatever the invoice said.
    recorded = await ledger.record_telegram_payment(session, account_id=account.id, amount_fen=payment.total_amount,
                                                    charge_id=payment.telegram_payment_charge_id, now=now)
    balance = await ledger.balance_fen(session, account.id)
    lines = [
        _("✅ <b>Payment received. Thank you!</b>") if recorded.created
        else _("✅ <b>This payment was already recorded</b> (it is counted once)."),
        _("Receipt: {receipt}").format(receipt=html.escape(recorded.receipt)),
        _("Account: {title}").format(title=account_title(account)),
        _("Amount: {amount}").format(amount=ledger.format_fen(recorded.entry.amount_fen, lang)),
        _("New balance: {amount}").format(amount=ledger.format_fen(balance, lang)) if balance >= 0
        else _("Still unpaid: {amount}").format(amount=ledger.format_fen(-balance, lang)),
    ]
    if account.meter_type is MeterType.ic_card:
        lines += ["", alerts.ic_card_note(ctx, lang)]
    if account.state is AccountState.sealed and balance >= 0:  # R11: reconnection needs a registration
        hotline = html.escape(ctx.catalogue.value("hotline", lang))
        lines += ["", _("Your supply was sealed for arrears. Now that they are paid, please register for "
                        "reconnection: call {hotline} or visit a service hall. Reconnections are made in order of "
                        "registration.").format(hotline=hotline)]
    kb = InlineKeyboardBuilder()
    if account.state is AccountState.sealed and balance >= 0:
        kb.button(text=reconnect_button_text(), callback_data=ReconnectCallback(account_id=account.id))
    kb.button(text=_("📊 Balance"), callback_data=AccountCallback(action=AccountAction.view, account_id=account.id))
    kb.adjust(1)
    await message.answer("\n".join(lines), reply_markup=kb.as_markup())

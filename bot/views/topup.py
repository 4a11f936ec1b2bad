"""A top-up invoice (Telegram Payments) and what can stand in its way; its payload is read back by the
pre-checkout and receipt handlers (bot/routers/payments.py). Simple mode sends the same invoice."""

from __future__ import annotations

import re

from aiogram.types import LabeledPrice, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core import accounts, alerts, ledger
from core.accounts import TopupProblem
from core.context import AppContext
from db.enums import MeterType
from db.models import Resident

CURRENCY = "CNY"
_PAYLOAD = re.compile(r"^top:(\d{1,18}):(\d{1,12})$")


def invoice_payload(account_id: int, amount_fen: int) -> str:
    return f"top:{account_id}:{amount_fen}"


def parse_payload(payload: str) -> tuple[int, int] | None:
    m = _PAYLOAD.match(payload or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def problem_text(problem: TopupProblem, low: int, high: int, lang: str) -> str:
    if problem is TopupProblem.not_linked:
        return _("This account is not linked to you (any more). Please open 💳 Balance & top-up.")
    if problem is TopupProblem.closed:
        return _("This account is closed, so it cannot take a top-up. Please call the hotline if you think "
                 "this is wrong.")
    return _("Please choose an amount from {low} to {high}.").format(low=ledger.format_fen(low, lang),
                                                                     high=ledger.format_fen(high, lang))


async def send_invoice(message: Message, session: AsyncSession, ctx: AppContext, resident: Resident,
                       account_id: int, amount_fen: int, lang: str) -> bool:
    """Send the invoice, or say why not; True when there is nothing more to type (sent, or it cannot be)."""
    check = await accounts.check_topup(session, resident_id=resident.id, account_id=account_id, amount_fen=amount_fen)
    if check.problem is not None:
        await message.answer(problem_text(check.problem, check.min_fen, check.max_fen, lang))
        return check.problem in (TopupProblem.not_linked, TopupProblem.closed)  # nothing more to type
    account = check.account
    assert account is not None  # an acceptable top-up names its account
    utility = _(accounts.UTILITY_LABELS[account.utility])
    await message.answer_invoice(
        title=_("Top up: {utility}").format(utility=utility)[:32],
        description=_("Prepayment to {utility} account {number} ({holder}).").format(
            utility=utility, number=account.number, holder=accounts.mask_name(account.holder_name))[:255],
        payload=invoice_payload(account.id, amount_fen),
        provider_token=ctx.settings.payment_provider_token.get_secret_value(),
        currency=CURRENCY,
        prices=[LabeledPrice(label=_("Prepayment"), amount=amount_fen)],
    )
    if account.meter_type is MeterType.ic_card:
        await message.answer(alerts.ic_card_note(ctx, lang))
    return True

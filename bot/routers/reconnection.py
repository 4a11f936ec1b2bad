"""🔌 Reconnection after arrears (R11): a resident whose supply was cut registers once the bill is paid, and
sees their place in the queue; reconnections are made in order of registration."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import ReconnectCallback
from bot.forms.buttons import ack, message_of
from core import accounts, reconnection, tickets
from core.context import AppContext
from db.models import Resident, UtilityAccount

router = Router(name=__name__)


def place_text(account: UtilityAccount, place: reconnection.Place) -> str:
    if place.position == 1:
        return _("🔌 You are registered for reconnection of account {number}. You are <b>next</b> in the queue; "
                 "we reconnect in order of registration and will tell you here when it is done.").format(
            number=account.number)
    return _("🔌 You are registered for reconnection of account {number}: number <b>{position}</b> in the queue "
             "({ahead} registered before you). We reconnect in order of registration and will tell you here when "
             "it is done.").format(number=account.number, position=place.position, ahead=place.ahead)


@router.callback_query(ReconnectCallback.filter(F.account_id > 0))
async def on_register(query: CallbackQuery, callback_data: ReconnectCallback, session: AsyncSession,
                      resident: Resident, ctx: AppContext) -> None:
    link = await accounts.get_link(session, resident.id, callback_data.account_id)
    if link is None:
        await query.answer(_("This account is not linked to you (any more). Please open 💳 Balance & top-up."),
                           show_alert=True)
        return
    account = link.account
    try:
        place = await reconnection.register(session, ctx=ctx, account=account, resident=resident)
    except tickets.TransitionError:
        await query.answer(_("Please pay the arrears first; then register for reconnection here."), show_alert=True)
        return
    except tickets.InvalidInput:
        await query.answer(_("The supply of this account is not cut off, so there is nothing to reconnect."),
                           show_alert=True)
        return
    await ack(query)
    await message_of(query).answer(place_text(account, place))

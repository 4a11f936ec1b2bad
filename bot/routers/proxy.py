"""👪 Applying for someone else (R16): the applicant's relation to the owner and which of the four documents
they have; the application is recorded and the assisted-service checklist lists at once what is missing. Then
the account link continues (bot/routers/accounts.py)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import ack, message_of, stale
from bot.keyboards.proxy import ProxyAct, ProxyCallback, ProxyForm, documents_keyboard
from bot.views.accounts import ask_number
from core import proxy
from core.context import AppContext
from db.models import Resident

router = Router(name=__name__)


def documents_text() -> str:
    return _("📄 To do business for the owner at a service hall you need four things. Tap each one you already "
             "have, then “Done”.")


@router.callback_query(ProxyForm.relation, ProxyCallback.filter(F.act == ProxyAct.relation))
async def on_relation(query: CallbackQuery, callback_data: ProxyCallback, state: FSMContext) -> None:
    try:
        relation = proxy.Relation(callback_data.v)
    except ValueError:
        await stale(query)
        return
    await ack(query)
    await state.update_data(proxy_relation=relation.value, proxy_docs=[])
    await state.set_state(ProxyForm.documents)
    await message_of(query).answer(documents_text(), reply_markup=documents_keyboard(relation.value, set()))


@router.callback_query(ProxyForm.documents, ProxyCallback.filter(F.act == ProxyAct.toggle))
async def on_toggle(query: CallbackQuery, callback_data: ProxyCallback, state: FSMContext) -> None:
    data = await state.get_data()
    if callback_data.v not in {d.value for d in proxy.DOCUMENTS}:
        await stale(query)
        return
    have = set(data.get("proxy_docs") or [])
    have ^= {callback_data.v}
    await state.update_data(proxy_docs=sorted(have))
    await query.answer()
    await message_of(query).edit_reply_markup(reply_markup=documents_keyboard(data.get("proxy_relation", ""), have))


@router.callback_query(ProxyForm.documents, ProxyCallback.filter(F.act == ProxyAct.done))
async def on_done(query: CallbackQuery, state: FSMContext, session: AsyncSession, resident: Resident,
                  ctx: AppContext) -> None:
    data = await state.get_data()
    relation, have = data.get("proxy_relation", ""), data.get("proxy_docs") or []
    app = await proxy.record(session, resident_id=resident.id, relation=relation, documents=have,
                             now=ctx.clock.now())
    await ack(query)
    await message_of(query).answer(checklist_text(app.relation, app.documents))
    await ask_number(message_of(query), state, relative=True)


def checklist_text(relation: str, documents: list[str]) -> str:
    """The assisted-service checklist: what they have and, at once and completely, what is missing (R16, R1)."""
    lines = [_("📋 <b>Your checklist for applying on the owner's behalf</b>")]
    for doc in proxy.DOCUMENTS:
        mark = "✅" if doc.value in documents else "❌"
        lines.append(f"{mark} {_(proxy.document_label(doc, relation))}")
    missing = proxy.missing(documents)
    if missing:
        lines.append(_("Still missing: {count}. Please bring them; the assisted-service desk at any service hall "
                       "checks your papers and helps you complete them, free of charge.").format(count=len(missing)))
    else:
        lines.append(_("You have everything. At the service hall the assisted-service desk checks the originals "
                       "and takes you straight to the counter."))
    return "\n".join(lines)


@router.message(ProxyForm.relation)
@router.message(ProxyForm.documents)
async def on_other(message: Message) -> None:
    await message.answer(_("Please use the buttons above, or send /cancel."))

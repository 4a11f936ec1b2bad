"""R16: the proxy application's states and buttons (shared by the accounts router, which starts it, and the
proxy router, which runs it)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core import proxy


class ProxyForm(StatesGroup):
    relation = State()
    documents = State()


class ProxyAct(StrEnum):
    relation = "r"
    toggle = "t"
    done = "d"


class ProxyCallback(CallbackData, prefix="pxy"):
    act: ProxyAct
    v: str = ""


def relation_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for rel in proxy.Relation:
        kb.button(text=_(proxy.RELATION_LABELS[rel]), callback_data=ProxyCallback(act=ProxyAct.relation, v=rel.value))
    kb.adjust(1)
    return kb.as_markup()


def documents_keyboard(relation: str, have: set[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for doc in proxy.DOCUMENTS:
        mark = "✅" if doc.value in have else "⬜"
        kb.button(text=f"{mark} {_(proxy.document_label(doc, relation))}",
                  callback_data=ProxyCallback(act=ProxyAct.toggle, v=doc.value))
    kb.button(text=_("➡️ Done"), callback_data=ProxyCallback(act=ProxyAct.done))
    kb.adjust(1)
    return kb.as_markup()


async def ask_relation(message: Message, state: FSMContext) -> None:
    await state.set_state(ProxyForm.relation)
    await state.update_data(proxy_docs=[])
    await message.answer(_("👪 You are applying for someone else. How are you related to the account "
                           "owner?"), reply_markup=relation_keyboard())

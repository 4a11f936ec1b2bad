"""Checklists: tick the documents you already have, see what is still missing, and get the
written one-time notice 《一次性告知单》 as a PDF (R1: one copy kept on file).

The ticks live in the buttons themselves (a bitmask in the callback data), so the list the
resident sees is always the list the bot acts on, with nothing to lose between taps.
"""

from __future__ import annotations

import html

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms.buttons import message_of
from bot.keyboards.guides import (
    ChecklistCallback,
    GuideAct,
    GuideCallback,
    NoticeCallback,
    fingerprint,
    short,
    topic_at,
)
from bot.views.guides import content_lang
from core import notices
from core.clock import local
from core.context import AppContext
from db.models import Resident
from knowledge.models import Lang, Topic

router = Router(name=__name__)

TICKED = "✅"
UNTICKED = "⬜"


def resolve(ctx: AppContext, t: int, v: str, m: int) -> Topic | None:
    """The topic a checklist button refers to, or None if stale or forged."""
    topic = topic_at(ctx.catalogue, t)
    if topic is None or topic.notice is None or fingerprint(topic) != v:
        return None
    if not 0 <= m < 1 << len(topic.notice.documents):
        return None
    return topic


def _ticked(mask: int, i: int) -> bool:
    return bool(mask >> i & 1)


def checklist_text(topic: Topic, items: list[tuple[str, str]], mask: int, lang: Lang) -> str:
    lines = [f"<b>{html.escape(topic.title.get(lang))}</b>",
             _("Tap each document you already have. ✅ = I have it, ⬜ = still missing."), ""]
    for i, (_id, text) in enumerate(items):
        lines.append(f"{TICKED if _ticked(mask, i) else UNTICKED} {i + 1}. {html.escape(text)}")
    missing = sum(1 for i in range(len(items)) if not _ticked(mask, i))
    lines.append("")
    if missing:
        lines.append(_("<b>Still missing: {missing} of {total}.</b> Some items apply only in the case shown "
                       "in brackets.").format(missing=missing, total=len(items)))
    else:
        lines.append(_("<b>You have everything on the list.</b> Bring the originals with you."))
    lines.append(_("Tap “Get the written notice” for a PDF of the complete one-time notification to keep."))
    return "\n".join(lines)


def checklist_keyboard(t: int, topic: Topic, items: list[tuple[str, str]], mask: int) -> InlineKeyboardMarkup:
    v = fingerprint(topic)
    kb = InlineKeyboardBuilder()
    for i, (_id, text) in enumerate(items):
        kb.button(text=short(f"{TICKED if _ticked(mask, i) else UNTICKED} {i + 1}. {text}"),
                  callback_data=ChecklistCallback(t=t, d=i, m=mask, v=v))
    kb.button(text=_("📄 Get the written notice (PDF)"), callback_data=NoticeCallback(t=t, m=mask, v=v))
    kb.button(text=_("⬅️ Back to the guide"), callback_data=GuideCallback(act=GuideAct.topic, t=t))
    kb.adjust(1)
    return kb.as_markup()


async def _stale(query: CallbackQuery) -> None:
    await query.answer(_("This checklist is out of date. Please open it again from the guide."), show_alert=True)


@router.callback_query(ChecklistCallback.filter())
async def on_checklist(query: CallbackQuery, callback_data: ChecklistCallback, ctx: AppContext, i18n: I18n) -> None:
    data = callback_data
    topic = resolve(ctx, data.t, data.v, data.m)
    notice = topic.notice if topic is not None else None  # resolve() returns only topics with a notice
    if topic is None or notice is None or data.d >= len(notice.documents) or data.d < -1:
        await _stale(query)
        return
    lang = content_lang(i18n)
    items = ctx.catalogue.checklist_items(topic, lang)
    await query.answer()
    if data.d == -1:  # opened from the answer: a fresh message, so the answer stays readable above
        await message_of(query).answer(checklist_text(topic, items, data.m, lang),
                                       reply_markup=checklist_keyboard(data.t, topic, items, data.m))
        return
    mask = data.m ^ (1 << data.d)
    try:
        await message_of(query).edit_text(checklist_text(topic, items, mask, lang),
                                          reply_markup=checklist_keyboard(data.t, topic, items, mask))
    except TelegramBadRequest:  # message too old to edit: send the updated list instead
        await message_of(query).answer(checklist_text(topic, items, mask, lang),
                                       reply_markup=checklist_keyboard(data.t, topic, items, mask))


@router.callback_query(NoticeCallback.filter())
async def on_notice(query: CallbackQuery, callback_data: NoticeCallback, session: AsyncSession, ctx: AppContext,
                    resident: Resident, i18n: I18n, bot: Bot) -> None:
    topic = resolve(ctx, callback_data.t, callback_data.v, callback_data.m)
    notice = topic.notice if topic is not None else None  # resolve() returns only topics with a notice
    if topic is None or notice is None:
        await _stale(query)
        return
    await query.answer(_("Preparing your written notice…"))
    locale = i18n.current_locale
    have = [doc.id for i, doc in enumerate(notice.documents) if _ticked(callback_data.m, i)]
    await bot.send_chat_action(message_of(query).chat.id, "upload_document")
    try:
        row = await notices.issue_notice(
            session, catalogue=ctx.catalogue, gettext=lambda s: ctx.translator.gettext(locale, s),
            resident=resident, slug=topic.slug, have=have, language=locale, now=ctx.clock.now(),
        )
    except notices.NoticeUnavailable:
        await message_of(query).answer(
            _("Sorry, the written notice cannot be produced at the moment. The checklist above is complete; "
              "any service hall can also print the notice for you."))
        return
    assert row.pdf is not None  # issue_notice returns a notice with its PDF
    lang = content_lang(i18n)
    day = format_date(local(row.created_at).date(), format="long", locale="en" if lang == "en" else "zh_Hans_CN")
    caption = _("One-time notification: {title}\nReference: {reference}\nDate: {date}\n"
                "Documents still missing: {missing}").format(
        title=html.escape(topic.title.get(lang)), reference=row.reference, date=day, missing=len(row.missing))
    await message_of(query).answer_document(
        BufferedInputFile(row.pdf, filename=notices.notice_filename(row.reference, locale)), caption=caption)

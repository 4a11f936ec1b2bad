"""Issue 3 done-when: a resident asks "二手房燃气怎么过户", gets the gas.transfer checklist, ticks items
and receives the written one-time notice as a PDF, which is kept on file (R1)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from bot.keyboards.guides import ChecklistCallback, NoticeCallback, fingerprint, topic_index
from core import notices
from db.enums import QuestionOutcome
from db.models import ChecklistNotice, QuestionLog
from tests import updates
from tests.support.knowledge_bot import button_data, buttons, last_markup, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


def pdf_text(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


async def _notice_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(ChecklistNotice))).scalar_one()


async def test_resident_asks_ticks_and_gets_the_written_notice(dp, bot, session, ctx) -> None:
    await make_resident(session, language="zh_Hans")
    await dp.feed_update(bot, updates.text("二手房燃气怎么过户"))

    # The complete answer (R1) with a checklist button under its last message.
    answer = "\n".join(bot.texts())
    for part in ("燃气过户", "所需材料", "办理时限", "办理流程", "不予受理", "收费", "办理地点"):
        assert part in answer, part
    log = (await session.execute(select(QuestionLog))).scalar_one()
    assert (log.outcome, log.topic, log.text) == (QuestionOutcome.answered, "gas.transfer", "二手房燃气怎么过户")
    assert last_markup(bot) is bot.sent()[-1].reply_markup, "buttons belong under the last message"
    open_checklist = button_data(bot, "ck:")

    bot.clear()
    await dp.feed_update(bot, updates.callback(open_checklist, message_id=500))
    checklist = bot.sent()[-1]
    items = ctx.catalogue.checklist_items("gas.transfer", "zh")
    assert len(items) == 7
    assert all(text in checklist.text for _id, text in items), "every document is listed in full"
    assert "还缺 7 项" in checklist.text
    doc_buttons = [d for _t, d in buttons(checklist.reply_markup) if d.startswith("ck:")]
    assert len(doc_buttons) == 7

    # Tick the first two documents: the message is edited in place each time.
    bot.clear()
    await dp.feed_update(bot, updates.callback(doc_buttons[0], message_id=501))
    edited = bot.sent("EditMessageText")[-1]
    assert "✅ 1. 新业主有效身份证原件" in edited.text and "⬜ 2. " in edited.text and "还缺 6 项" in edited.text
    second = [d for _t, d in buttons(edited.reply_markup) if d.startswith("ck:")][1]
    bot.clear()
    await dp.feed_update(bot, updates.callback(second, message_id=501))
    edited = bot.sent("EditMessageText")[-1]
    assert "还缺 5 项" in edited.text
    get_notice = next(d for _t, d in buttons(edited.reply_markup) if d.startswith("nt:"))

    bot.clear()
    await dp.feed_update(bot, updates.callback(get_notice, message_id=501))
    docs = bot.sent("SendDocument")
    assert len(docs) == 1
    pdf = docs[0].document.data
    row = (await session.execute(select(ChecklistNotice))).scalar_one()
    assert pdf.startswith(b"%PDF-")
    assert row.reference.startswith("GZ-20261123-") and row.reference.encode() in pdf
    assert row.pdf == pdf, "the copy on file is the copy the resident got"
    assert (row.resident_id, row.topic, row.language) == (10001, "gas.transfer", "zh_Hans")
    assert row.have == ["new-owner-id", "property-doc"]
    assert row.missing == ["old-card", "account-no", "agent-id", "relation-proof", "company-docs"]
    assert row.reference in docs[0].caption and "一次性告知单" in docs[0].caption
    assert docs[0].document.filename == f"一次性告知单-{row.reference}.pdf"

    text = pdf_text(pdf)
    assert "一次性告知单" in text and row.reference in text and "2026年11月23日" in text
    assert "燃气过户" in text and "不予受理" in text and "尚缺材料（5 项）" in text
    assert "新业主有效身份证原件" in text


async def test_english_resident_gets_an_english_notice(dp, bot, session, ctx) -> None:
    await make_resident(session, user_id=10002, language="en", first_name="Li Na")
    await dp.feed_update(bot, updates.text("how do i put the gas in my name", user_id=10002))
    assert "Transfer a gas account" in bot.texts()[0]
    bot.clear()
    await dp.feed_update(bot, updates.callback(_data(ctx, m=0b1), user_id=10002))
    await dp.feed_update(bot, updates.callback(NoticeCallback(t=_t(ctx), m=0b1, v=_v(ctx)).pack(), user_id=10002))
    doc = bot.sent("SendDocument")[-1]
    assert doc.document.filename.startswith("one-time-notification-GZ-")
    text = pdf_text(doc.document.data)
    assert "One-time notification" in text and "Still missing (6):" in text and "November 23, 2026" in text


def _t(ctx) -> int:
    return topic_index(ctx.catalogue, "gas.transfer")


def _v(ctx) -> str:
    return fingerprint(ctx.catalogue["gas.transfer"])


def _data(ctx, *, d: int = -1, m: int = 0, v: str | None = None, t: int | None = None) -> str:
    return ChecklistCallback(t=_t(ctx) if t is None else t, d=d, m=m, v=v or _v(ctx)).pack()


@pytest.mark.parametrize("forged", [
    "bad-fingerprint", "mask-too-big", "doc-out-of-range", "negative-mask", "unknown-topic", "info-topic",
])
async def test_stale_or_forged_checklist_buttons_change_nothing(dp, bot, session, ctx, forged) -> None:
    await make_resident(session)
    leak = topic_index(ctx.catalogue, "gas.leak")
    data = {
        "bad-fingerprint": _data(ctx, v="000000"),
        "mask-too-big": _data(ctx, m=1 << 7),
        "doc-out-of-range": _data(ctx, d=7),
        "negative-mask": _data(ctx, m=-1),
        "unknown-topic": _data(ctx, t=999),
        "info-topic": ChecklistCallback(t=leak, v=fingerprint(ctx.catalogue["gas.leak"])).pack(),
    }[forged]
    await dp.feed_update(bot, updates.callback(data))
    notice = NoticeCallback(t=_t(ctx), m=1 << 7, v=_v(ctx)).pack()
    await dp.feed_update(bot, updates.callback(notice, message_id=2))
    alerts = bot.sent("AnswerCallbackQuery")
    assert len(alerts) == 2 and all(a.show_alert for a in alerts)
    assert not bot.sent("SendMessage") and not bot.sent("EditMessageText") and not bot.sent("SendDocument")
    assert await _notice_count(session) == 0


async def test_asking_twice_for_the_same_notice_gives_the_same_reference(dp, bot, session, ctx) -> None:
    await make_resident(session)
    notice = NoticeCallback(t=_t(ctx), m=0b101, v=_v(ctx)).pack()
    await dp.feed_update(bot, updates.callback(notice, message_id=10))
    await dp.feed_update(bot, updates.callback(notice, message_id=11))
    docs = bot.sent("SendDocument")
    assert len(docs) == 2 and docs[0].document.data == docs[1].document.data
    assert await _notice_count(session) == 1
    # Different ticks are a different paper: a new number.
    await dp.feed_update(bot, updates.callback(NoticeCallback(t=_t(ctx), m=0b111, v=_v(ctx)).pack(), message_id=12))
    assert await _notice_count(session) == 2


async def test_without_a_cjk_font_the_resident_gets_a_polite_message(dp, bot, session, ctx, monkeypatch) -> None:
    await make_resident(session)
    monkeypatch.setattr(notices, "FONT_CANDIDATES", ())  # as on a machine without fonts-wqy-microhei
    await dp.feed_update(bot, updates.callback(NoticeCallback(t=_t(ctx), m=0, v=_v(ctx)).pack()))
    assert not bot.sent("SendDocument")
    assert "暂时无法生成书面告知单" in bot.sent()[-1].text
    assert await _notice_count(session) == 0

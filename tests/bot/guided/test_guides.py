"""Guided mode: guides and checklists by buttons only — one numbered message at a time (issue 8, R1)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.routers.guided.guides import short_title
from db.models import ChecklistNotice, Ticket
from knowledge import load_catalogue
from knowledge.models import Utility
from tests import updates
from tests.support.demo import GRANNY
from tests.support.flows import share_location, tap_paged

CATALOGUE = load_catalogue()


async def _open_ignition(walker) -> None:
    await walker.start()
    await walker.tap("📚")
    await walker.tap("🔥")
    await tap_paged(walker, "通气点火")


async def test_topic_summary_then_documents_one_at_a_time_and_the_written_notice(granny, demo_town_guided) -> None:
    await granny.start()
    screen = await granny.tap("📚")
    assert {"🔥", "💧", "⚡", "📄"} <= {b.split()[1] for b in screen.flat if b[0].isdigit()}
    screen = await granny.tap("🔥")
    assert "燃气泄漏" in screen.flat[0]  # the emergency comes first
    screen = await tap_paged(granny, "通气点火")
    topic = CATALOGUE["gas.ignition"]
    assert "通气点火" in screen.texts[0] and topic.summary.zh[:20] in screen.texts[0]  # one short summary
    assert any("📋" in b for b in screen.flat) and any("🪜" in b for b in screen.flat)
    documents = topic.notice.documents
    screen = await granny.tap("📋")
    assert f"第1项，共{len(documents)}项" in screen.text and documents[0].zh in screen.text
    screen = await granny.tap("➡️")
    assert documents[1].zh in screen.text and "只有这种情况才需要" in screen.text  # a condition in plain words
    screen = await granny.back()  # Back is the previous document
    assert documents[0].zh in screen.text
    for _ in range(len(documents) - 1):
        screen = await granny.tap("➡️")
    assert documents[-1].zh in screen.text and not any(b.endswith("下一条") for b in screen.flat)
    granny.bot.clear()
    screen = await granny.tap("📄")
    [sent] = granny.bot.sent("SendDocument")
    assert sent.document.filename.endswith(".pdf") and "通气点火" in sent.caption
    async with demo_town_guided.sessionmaker() as s:
        [notice] = (await s.execute(select(ChecklistNotice))).scalars()
    assert notice.resident_id == GRANNY and notice.topic == "gas.ignition" and notice.reference in sent.caption
    assert notice.pdf.startswith(b"%PDF")
    assert any("🪜" in b for b in screen.flat)  # back on the topic, without the summary again
    assert not any(topic.summary.zh[:20] in t for t in screen.texts)


async def test_steps_read_one_by_one_and_back_to_the_guide(granny, demo_town_guided) -> None:
    await _open_ignition(granny)
    steps = CATALOGUE["gas.ignition"].notice.steps
    screen = await granny.tap("🪜")
    assert f"第1步，共{len(steps)}步" in screen.text and steps[0].zh in screen.text
    screen = await granny.tap("➡️")
    assert steps[1].zh in screen.text
    screen = await granny.tap("📘")
    assert any("🪜" in b for b in screen.flat) and "您想看什么" in screen.text
    # "Home" at any point, then the same guide again: the summary is shown afresh.
    await granny.home()
    await granny.tap("📚")
    await granny.tap("🔥")
    screen = await tap_paged(granny, "通气点火")
    assert "通气点火" in screen.texts[0]


async def test_topic_actions_lead_into_the_other_flows(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("📚")
    await granny.tap("🔥")
    screen = await granny.tap("燃气泄漏")
    # An emergency: doing comes before reading, so "report a problem" is the first option.
    assert "🛠" in screen.flat[0]
    screen = await granny.tap("⚠️")
    safety = CATALOGUE["gas.leak"].safety
    assert safety[0].zh[:10] in screen.text
    await granny.back()
    screen = await granny.tap("🛠")
    # Straight into the gas-leak report: the safety advice first, then where.
    assert "燃气泄漏" in screen.texts[0] and any("🏡" in b for b in screen.flat)
    await granny.back()
    screen = await granny.tap("👩‍💼")
    assert any("💬" in b for b in screen.flat)


async def test_a_typed_question_opens_its_guide(granny, demo_town_guided) -> None:
    await granny.start()
    screen = await granny._feed(updates.text("新房怎么通气点火", user_id=GRANNY))
    assert "通气点火" in screen.texts[0] and any("📋" in b for b in screen.flat)
    screen = await granny.back()
    assert any("➕" in b for b in screen.flat)


@pytest.mark.parametrize("utility", [u.value for u in Utility])
async def test_every_guide_in_english_fits_the_screen(lina, demo_town_guided, utility) -> None:
    """Every topic, every part, one message at a time: the walker checks each screen's bounds."""
    topics = CATALOGUE.by_utility(utility)
    for topic in topics:
        await lina.start()
        await lina.tap("📚")
        await lina.tap(utility_button(utility))
        screen = await tap_paged(lina, short_title(topic, "en"))
        assert topic.title.en.split(",")[0][:12] in screen.texts[0]
        parts = {"📋": bool(topic.notice), "🪜": bool(topic.notice), "⚠️": bool(topic.safety),
                 "📖": bool(topic.body) and not topic.notice}
        for emoji, offered in parts.items():
            if not offered:
                continue
            screen = await tap_paged(lina, emoji)
            read = 1
            while any("Next" in b for b in screen.flat):
                screen = await lina.tap("➡️ Next")
                read += 1
            assert re.search(r"(\d+) of \1:", screen.text) and read >= int(re.search(r"of (\d+)", screen.text)[1])
            assert any("✅" in b for b in screen.flat), (topic.slug, emoji)
            screen = await lina.tap("✅")
            assert "What would you like to see" in screen.text


def utility_button(utility: str) -> str:
    return {"gas": "🔥", "water": "💧", "power": "⚡", "general": "📄"}[utility]


def test_short_titles_fit_a_big_button() -> None:
    for topic in CATALOGUE:
        zh, en = short_title(topic, "zh"), short_title(topic, "en")
        assert 2 <= len(zh) <= 12 and 1 <= len(en.split()) <= 6, topic.slug
    assert short_title(CATALOGUE["gas.transfer"], "en") == "Transfer gas account to new owner"


async def test_written_notice_without_a_font_is_refused_politely(granny, demo_town_guided, monkeypatch) -> None:
    from core import notices

    monkeypatch.setattr(notices, "find_cjk_font", lambda *a, **k: None)
    await _open_ignition(granny)
    granny.bot.clear()
    screen = await tap_paged(granny, "📄")
    assert not granny.bot.sent("SendDocument") and "营业厅" in screen.texts[0]
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.execute(select(ChecklistNotice))).first() is None


async def test_report_from_a_water_leak_guide_asks_only_where(lina, demo_town_guided) -> None:
    await lina.start()
    await lina.tap("📚")
    await lina.tap("💧")
    screen = await lina.tap("🚨")  # report a water leak or burst pipe
    assert "🛠" in screen.flat[0]
    screen = await lina.tap("🛠")
    assert "Where" in screen.text and any("📍" in b for b in screen.flat)
    await share_location(lina)
    await tap_paged(lina, "城东区")
    await lina.tap("🏘")
    await lina.share_contact("13800000002")
    screen = await lina.tap("✅")
    async with demo_town_guided.sessionmaker() as s:
        [ticket] = (await s.execute(select(Ticket))).scalars()
    assert (ticket.category, ticket.district, ticket.extent) == ("water_leak", "城东区", "area")
    assert ticket.number in screen.texts[0]


async def test_back_returns_to_the_same_guide_after_a_question_in_between(granny, demo_town_guided) -> None:
    await _open_ignition(granny)
    await tap_paged(granny, "📅")  # book a visit from the ignition guide
    screen = await granny._feed(updates.text("闻到煤气味怎么办", user_id=GRANNY))
    assert "燃气泄漏" in screen.texts[0] and any("⚠️" in b for b in screen.flat)
    await granny.back()  # the visit form
    screen = await granny.back()  # the ignition guide again, not the gas-leak one
    assert any("📅" in b for b in screen.flat) and not any("⚠️" in b for b in screen.flat)
    screen = await tap_paged(granny, "🪜")
    assert CATALOGUE["gas.ignition"].notice.steps[0].zh in screen.text

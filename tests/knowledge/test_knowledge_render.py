"""Telegram-HTML rendering of a topic and its checklist."""

from __future__ import annotations

from knowledge import Catalogue, Text
from knowledge.render import MAX_CHUNK, checklist_items, render


def test_business_sections_in_order(fixture_catalogue: Catalogue) -> None:
    (zh,) = fixture_catalogue.render("gas.transfer", "zh")
    headings = ["<b>燃气过户</b>", "<b>依据</b>", "<b>办理时限</b>", "<b>办理流程</b>", "<b>所需材料</b>",
                "<b>不合格需整改</b>", "<b>不予受理</b>", "<b>收费</b>", "<b>办理地点</b>"]
    positions = [zh.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "1. 预约上门抄表。\n2. 结清气费。\n3. 到营业厅签合同。" in zh
    assert "• 代办人身份证（代办时）" in zh
    (en,) = fixture_catalogue.render("gas.transfer", "en_US")
    for h in ("Basis", "Time limit", "Steps", "Documents", "If inspection fails", "Not accepted", "Fees",
              "Where to apply"):
        assert f"<b>{h}</b>" in en
    assert "• The agent's ID card (if someone applies for the owner)" in en


def test_text_is_html_escaped(fixture_catalogue: Catalogue) -> None:
    (en,) = fixture_catalogue.render("gas.transfer", "en")
    assert "ID card &amp; the property certificate" in en
    topic = fixture_catalogue["water.transfer"].model_copy(
        update={"summary": Text(zh="<script>", en="a < b > c")})
    assert "&lt;script&gt;" in render(topic, "zh")[0]
    assert "a &lt; b &gt; c" in render(topic, "en")[0]


def test_emergency_puts_safety_before_everything_else(fixture_catalogue: Catalogue) -> None:
    (zh,) = fixture_catalogue.render("gas.leak", "zh")
    assert zh.startswith("<b>燃气泄漏应急</b>\n闻到燃气味请立即按下面做。\n\n<b>⚠️ 请立即这样做</b>\n1. 不要开关电器")
    assert zh.index("请立即这样做") < zh.index("我们会优先派人抢修")


def test_checklist_items_include_conditions(fixture_catalogue: Catalogue) -> None:
    topic = fixture_catalogue["gas.transfer"]
    assert checklist_items(topic, "zh") == [
        ("owner-id", "新业主身份证原件"), ("property-doc", "房产证原件"), ("agent-id", "代办人身份证（代办时）")]
    assert fixture_catalogue.checklist_items("gas.transfer", "en")[2] == (
        "agent-id", "The agent's ID card (if someone applies for the owner)")
    assert fixture_catalogue.checklist_items("water.transfer", "en") == []


def test_long_topic_splits_into_self_contained_chunks(fixture_catalogue: Catalogue) -> None:
    topic = fixture_catalogue["gas.transfer"]
    assert topic.notice is not None
    steps = [Text(zh=f"第{i}步：" + "请按要求准备资料并核对无误。" * 8, en=f"Step {i}: " + "check it. " * 20)
             for i in range(1, 80)]
    long_topic = topic.model_copy(update={"notice": topic.notice.model_copy(update={"steps": steps})})
    for lang in ("zh", "en"):
        chunks = render(long_topic, lang)
        assert len(chunks) >= 3
        assert all(len(c) <= MAX_CHUNK for c in chunks)
        assert chunks[0].startswith(f"<b>{topic.title.get(lang)}</b>")
        for chunk in chunks[1:]:  # every later message says what it continues
            assert chunk.startswith(f"<b>{topic.title.get(lang)}</b>")
        for chunk in chunks:
            assert chunk.count("<b>") == chunk.count("</b>")
        # the list was cut between lines, never inside one: every step is whole in one chunk
        for i, step in enumerate(steps, 1):
            line = f"{i}. {step.get(lang)}"
            assert sum(line in chunk.splitlines() for chunk in chunks) == 1


def test_overlong_single_line_is_cut_without_breaking_entities(fixture_catalogue: Catalogue) -> None:
    topic = fixture_catalogue["water.transfer"].model_copy(
        update={"body": [Text(zh="水" * 8000, en="a&b " * 2500)]})
    for lang in ("zh", "en"):
        chunks = render(topic, lang)
        assert all(len(c) <= MAX_CHUNK for c in chunks)
        if lang == "en":
            text = "".join(chunks)
            assert "&amp;" in text and "&am\n" not in text and "&a\n" not in text

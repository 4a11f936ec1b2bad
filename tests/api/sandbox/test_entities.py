"""Telegram HTML parsing and the safe re-rendering used by the chat page."""

from __future__ import annotations

import pytest

from api.sandbox.entities import EntityParseError, entities_to_html, parse_html, strip_text, utf16_len


def test_parse_nested_tags_and_charrefs() -> None:
    text, entities = parse_html(
        '<b>燃气 <i>停气</i></b> &lt;通知&gt; &amp; &#128293; <a href="https://x.cn/?a=1&amp;b=2">链接</a>'
    )
    assert text == "燃气 停气 <通知> & 🔥 链接"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "italic", "offset": 3, "length": 2},
        {"type": "text_link", "url": "https://x.cn/?a=1&b=2", "offset": 16, "length": 2},
    ]


def test_offsets_are_utf16() -> None:
    text, entities = parse_html("🔥<b>x</b>")
    assert utf16_len(text) == 3
    assert entities == [{"type": "bold", "offset": 2, "length": 1}]


def test_pre_with_language_and_spoilers() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">print(1)</code></pre><span class="tg-spoiler">s</span>'
        "<tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote>"
    )
    assert text == "print(1)stq"
    assert [e["type"] for e in entities] == ["pre", "spoiler", "spoiler", "expandable_blockquote"]
    assert entities[0]["language"] == "python"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a < b", "Unsupported start tag"),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag"),
        ('<span class="x">y</span>', "tg-spoiler"),
    ],
)
def test_invalid_html_is_refused_like_telegram(source: str, message: str) -> None:
    with pytest.raises(EntityParseError, match=message.replace("(", r"\(")):
        parse_html(source)


def test_strip_keeps_entities_aligned() -> None:
    text, entities = parse_html("  <b>hi</b> there \n")
    text, entities = strip_text(text, entities)
    assert text == "hi there"
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_render_escapes_everything_but_telegram_tags() -> None:
    text = "<script>alert(1)</script> 粗体 link"
    html = entities_to_html(
        text,
        [
            {"type": "bold", "offset": 26, "length": 2},
            {"type": "text_link", "offset": 29, "length": 4, "url": "javascript:alert(1)"},
        ],
    )
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt; <b>粗体</b> link"


def test_render_roundtrip_and_astral_offsets() -> None:
    source = (
        '🔥 <b>bold <i>both</i></b> <a href="https://example.com/?q=&quot;x&quot;">l</a> '
        "<code>&lt;c&gt;</code>"
    )
    text, entities = parse_html(source)
    html = entities_to_html(text, entities)
    assert html == (
        '🔥 <b>bold <i>both</i></b> <a href="https://example.com/?q=&quot;x&quot;" target="_blank" '
        'rel="noopener noreferrer">l</a> <code>&lt;c&gt;</code>'
    )


def test_render_overlapping_entities_stays_well_formed() -> None:
    html = entities_to_html(
        "abcdef", [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 2, "length": 4}]
    )
    assert html == "<b>ab<i>cd</i></b><i>ef</i>"

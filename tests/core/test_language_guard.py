"""R14 service-language guard: every listed forbidden phrase is caught, polite forms are not."""

from __future__ import annotations

import pytest

from core import language_guard

# The R14 list from SERVICE_RULES.md, each inside a realistic sentence.
FORBIDDEN_ZH = [
    "喂喂，听得到吗", "我就这个态度", "这个我不知道", "随便你吧", "你懂不懂啊", "你问我，我问谁？", "这是领导定的",
    "这不是我的事情", "该下班了，你快点", "你去找领导吧", "你去投诉吧", "我们也没有办法", "没上班，等会儿再说",
    "这事解决不了",
]
FORBIDDEN_EN = ["I don't know.", "Whatever you want", "That's not my job", "Go and complain", "Hurry up please",
                "There is nothing we can do", "It can't be fixed", "Don't you understand?", "Ask someone else"]
POLITE = ["您好，请问有什么可以帮您？", "请您稍等，我马上为您查询。", "不知道您什么时候方便？", "谢谢您的耐心，再见！",
          "对不起，给您带来不便。", "Hello, how can I help you today?", "Thank you, goodbye!"]


@pytest.mark.parametrize("text", FORBIDDEN_ZH + FORBIDDEN_EN)
def test_forbidden_phrases_are_caught_with_a_polite_alternative(text: str) -> None:
    hits = language_guard.check(text)
    assert hits, f"R14 phrase not caught: {text}"
    for h in hits:
        assert text[h.start:h.end] == h.matched and h.suggestion
    assert language_guard.check(language_guard.polite_version(text)) == []


@pytest.mark.parametrize("text", POLITE)
def test_polite_text_passes(text: str) -> None:
    assert language_guard.check(text) == []


def test_full_width_and_case_variants_and_spans() -> None:
    text = "好的。ＷＨＡＴＥＶＥＲ，你问我 我问谁"
    hits = language_guard.check(text)
    assert [h.phrase for h in hits] == ["whatever", "你问我，我问谁"]
    assert [text[h.start:h.end] for h in hits] == ["ＷＨＡＴＥＶＥＲ", "你问我 我问谁"]


def test_overlapping_phrases_reported_once() -> None:
    assert [h.phrase for h in language_guard.check("这不是我的事情")] == ["这不是我的事情"]

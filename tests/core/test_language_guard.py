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


# R14 variants: how the listed phrases are actually said or typed — extra words, dropped particles,
# traditional characters, punctuation and spaces in between. Each must be caught (issue 15).
VARIANTS = [
    ("我不知道您说的是什么", "不知道"),
    ("我都不知道你在说什么", "不知道"),
    ("我不知道您說的是什麼", "不知道"),
    ("我们也没办法", "我们也没有办法"),
    ("我也没有办法", "我们也没有办法"),
    ("我們也沒辦法", "我们也没有办法"),
    ("我们实在没有什么办法", "我们也没有办法"),
    ("你去找领导", "你去找领导吧 / 你去投诉吧"),
    ("你自己去找领导吧", "你去找领导吧 / 你去投诉吧"),
    ("你去找領導吧", "你去找领导吧 / 你去投诉吧"),
    ("你 去 投 诉 吧", "你去找领导吧 / 你去投诉吧"),
    ("那你就去投诉吧", "你去找领导吧 / 你去投诉吧"),
    ("您去找领导吧", "你去找领导吧 / 你去投诉吧"),  # R14: the polite pronoun does not make it polite
    ("您自己去找領導", "你去找领导吧 / 你去投诉吧"),
    ("您还是去投诉吧", "你去找领导吧 / 你去投诉吧"),
    ("这事我解决不了", "这事解决不了"),
    ("这个问题我们解决不了", "这事解决不了"),
    ("這事我解決不了", "这事解决不了"),
    ("这事儿，解决不了", "这事解决不了"),
    ("我解决不了", "这事解决不了"),
    ("你问我，那我问谁", "你问我，我问谁"),
    ("该下班了，你能不能快点", "该下班了，你快点"),
    ("还没上班呢，等一会儿再说", "没上班，等会儿再说"),
    ("这都是领导定的", "这是领导定的"),
    ("這是領導定的", "这是领导定的"),
    ("这不关我的事", "这不是我的事情"),
    ("我就是这种态度", "我就这个态度"),
    ("你到底懂不懂", "你懂不懂"),
    ("喂，喂", "喂喂"),
]


@pytest.mark.parametrize(("text", "phrase"), VARIANTS)
def test_r14_common_variants_are_caught(text: str, phrase: str) -> None:
    hits = language_guard.check(text)
    assert phrase in [h.phrase for h in hits], f"R14 variant not caught: {text} → {hits}"
    assert language_guard.check(language_guard.polite_version(text)) == []


@pytest.mark.parametrize("text", [
    "不知道您明天上午是否方便？", "您可以通过投诉渠道反映，我们会认真处理。", "我们一定想办法为您解决。",
    "这个问题今天就能解决，请您放心。", "请您稍等，我去找一下维修师傅的电话。", "谢谢您的耐心，再见！",
    "您的投诉我们已受理，我会跟进到底。", "我帮您向领导反映，由我跟进。",
])
def test_r14_polite_sentences_near_the_variants_pass(text: str) -> None:
    assert language_guard.check(text) == []


def test_r14_require_polite_names_the_phrase_and_suggests() -> None:
    with pytest.raises(language_guard.ForbiddenPhrase) as e:
        language_guard.require_polite("对不起，这事我解决不了", what="reply")
    assert "这事我解决不了" in str(e.value) and e.value.suggestion and not language_guard.check(e.value.suggestion)
    language_guard.require_polite("您好，我马上为您处理。")

"""Issue 14 normalisation: English word forms, negations, the utility thesaurus, dialect words,
units inside a phrase, and the query side (compounds, short typos, word forms) — plus properties
of the normaliser that must hold for any text."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from knowledge.features import FUNCTION_WEIGHT, body_features, topic_body, unit_weight
from knowledge.matcher import Matcher
from knowledge.normalize import MAX_INPUT_CHARS, clean, en_stem, normalize


@pytest.mark.parametrize(("a", "b"), [
    ("running", "run"), ("stopped", "stop"), ("snapped", "snap"),  # doubled final consonant
    ("filling", "fill"), ("passed", "pass"),  # a real double letter stays
    ("temporarily", "temporary"), ("permanently", "permanent"), ("suddenly", "sudden"),  # -ly adverbs
    ("paid", "pay"), ("bought", "buy"), ("broken", "break"), ("higher", "high"),  # irregular forms
    ("metres", "meter"), ("colour", "color"), ("licence", "license"),  # British / American spelling
])
def test_word_forms_meet(a: str, b: str) -> None:
    assert en_stem(a) == en_stem(b)


def test_short_words_are_not_adverbs() -> None:
    # "apply", "supply", "family" end in -ly but are not adverbs: cutting them would merge
    # "apply" with "app".
    assert {en_stem(w) for w in ("apply", "supply", "family")} == {"apply", "supply", "family"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("my stove won't light", "stov not light"),  # the negation is kept, not the word "won"
    ("it doesn’t work", "not work"),  # typographic apostrophe too
    ("the gas inspector's visit", "gas inspect visit"),  # inspection / inspector / inspect
    ("rusty tap water", "brown tap water"),  # residents' word -> the topics' word
    ("my apartment", "flat"),
    ("dad paid the bill", "parent pay bill"),
])
def test_english_normalisation(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("咱屋头的水咋个是浑的", "家 水 浑"),  # dialect pronoun / question word cut, 屋头 -> 家
    ("俺家燃气卡整丢了", "家燃气卡丢"),  # 俺 cut, 整丢 -> 丢
    ("燃气帐户", "燃气账户"),  # variant character
    ("听说明天要停电，到底几点来电", "明天要停电 几点来电"),  # fillers of a told story
    ("先存1000块进去", "先存钱进去"),  # the unit stays in the phrase: 存钱 is the evidence
])
def test_chinese_normalisation(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_function_characters_weigh_less() -> None:
    assert unit_weight([("c:的", 0.5)]) == FUNCTION_WEIGHT
    assert unit_weight([("c:气", 0.5)]) == 1.0 and unit_weight([("w:the", 1.0)]) == 1.0


def test_answer_text_is_indexed_apart(real_catalogue) -> None:
    topic = real_catalogue["power.fault"]
    feats = body_features(topic_body(topic))
    assert "w:breaker" in feats and all(f[0] in "bw" for f in feats)


def test_query_side_corrections(matcher: Matcher) -> None:
    q = matcher.query_features
    assert "w:prepay" in q("pre pay electric")  # two words the index knows as one
    assert "w:leak" in q("gas lek")  # a three-letter word missing one inner letter
    assert "w:card" not in q("gas price for my car")  # ... but not another real word
    assert "w:electric" in q("electrcity connection")  # a misspelt synonym is folded after correction
    assert "w:accuracy" in q("meter accurate")  # another form of an index word (shared beginning)


def test_answer_text_signal(matcher: Matcher) -> None:
    # "breaker" is a word of the power-fault answer, not of its names or sample questions.
    sig = matcher.signals("breaker")
    i = matcher.slugs.index("power.fault")
    assert sig["body"][i] > 0 and sig["body"][i] == sig["body"].max()


# --- properties of the normaliser ------------------------------------------------------------------

_ASCII_WORDS = st.lists(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10), min_size=1, max_size=6)
_ANY_TEXT = st.text(max_size=300)


@settings(max_examples=200, deadline=None)
@given(_ANY_TEXT)
def test_clean_output_is_tokens_and_bounded(text: str) -> None:
    out = clean(text)
    assert len(out) <= MAX_INPUT_CHARS * 2  # a unit word may stand for a shorter number
    assert out == out.strip() and "  " not in out
    assert all(c == " " or c.isdigit() or ("a" <= c <= "z") or ord(c) >= 0x3400 for c in out)


@settings(max_examples=200, deadline=None)
@given(_ANY_TEXT)
def test_normalize_never_fails_and_is_lower_case(text: str) -> None:
    out = normalize(text)
    assert out == out.lower() and "  " not in out


@settings(max_examples=200, deadline=None)
@given(_ASCII_WORDS)
def test_chat_noise_and_case_change_nothing(words: list[str]) -> None:
    text = " ".join(words)
    assert normalize(f"请问 {text.upper()} 谢谢！！") == normalize(text)


@settings(max_examples=200, deadline=None)
@given(_ASCII_WORDS)
def test_full_width_letters_read_as_ascii(words: list[str]) -> None:
    text = " ".join(words)
    full = "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in text)
    assert normalize(full) == normalize(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="燃氣過戶補辦錶費電話開戶轉讓", min_size=1, max_size=12))
def test_traditional_reads_as_simplified(text: str) -> None:
    assert normalize(text) == normalize(OpenCC("t2s").convert(text))

"""Normalisation shared by index and query."""

from __future__ import annotations

import pytest

from knowledge.normalize import clean, en_stem, normalize, pinyin, syllable


@pytest.mark.parametrize(("raw", "expected"), [
    ("ＩＣ卡　补办！！", "ic卡 补办"),  # full-width letters, space and punctuation
    ("燃氣過戶", "燃气过户"),  # traditional -> simplified
    ("請問水錶怎麼驗表？", "请问水表怎么验表"),
    ("HOW  do I   Pay???", "how do i pay"),
    ("停电了😭😭", "停电了"),  # emoji are separators
    ("煤气漏了", "燃气漏了"),  # colloquial synonym folded into the topics' word
])
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("请问燃气怎么过户啊？谢谢", "燃气 过户"),  # chat noise cut out
    ("你好", ""),
    ("Hello, how do I transfer my gas accounts please?", "transfer gas account"),
    ("meters leaking", "meter leak"),
])
def test_normalize_drops_noise_and_stems(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_long_input_is_truncated() -> None:
    assert len(clean("燃气" * 10_000)) <= 200


def test_fuzzy_pinyin_merges_homophones() -> None:
    assert pinyin("过护") == pinyin("过户")
    assert pinyin("燃汽") == pinyin("燃气")
    assert pinyin("交废") == pinyin("缴费")
    assert syllable("水") == syllable("税") == "sui"  # sh -> s
    assert syllable("x") == "x"


def test_en_stem() -> None:
    assert en_stem("charged") == en_stem("charge") == en_stem("charging")
    assert en_stem("gas") == "gas" and en_stem("utilities") == en_stem("utility")
    assert en_stem("rates") == en_stem("rate") and en_stem("closure") == en_stem("close") == en_stem("closed")
    assert en_stem("use") == en_stem("uses") == "use" and en_stem("pipes") == en_stem("pipe")

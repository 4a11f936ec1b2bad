"""Small talk is recognised only when the message says nothing else (knowledge/smalltalk.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge import Catalogue, Matcher
from knowledge.models import LANGS
from knowledge.smalltalk import PHRASES, small_talk


@pytest.mark.parametrize(("text", "kind"), [
    ("谢谢", "thanks"), ("谢谢你！", "thanks"), ("好的谢谢", "thanks"), ("非常感谢～", "thanks"), ("thx!!", "thanks"),
    ("Thank you very much", "thanks"), ("thanks bye", "goodbye"), ("再见", "goodbye"), ("88", "goodbye"),
    ("您好", "greeting"), ("在吗？", "greeting"), ("Good morning!", "greeting"), ("hi there", "greeting"),
    ("你是机器人吗", "bot"), ("有人吗？", "bot"), ("is anybody there", "bot"), ("你叫什么名字", "bot"),
    ("Hi there, am I talking to a real person or a bot?", "bot"),
    ("好的", "ack"), ("嗯嗯 知道了", "ack"), ("OK", "ack"), ("哈哈哈", "ack"), ("謝謝您", "thanks"),
])
def test_small_talk_kinds(text: str, kind: str) -> None:
    assert small_talk(text) == kind


@pytest.mark.parametrize("text", [
    "你好，燃气过户要带什么", "早上燃气没了", "银行卡能交费吗", "I want to talk to a human", "Hello, my gas is off",
    "thanks, and how do I pay the water bill", "好的，那水表什么时候来换", "燃气", "", "   ", "人工客服",
    "收到了吗", "好了吗", "可以吗", "行吗", "8888",
])
def test_anything_else_is_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


@settings(max_examples=200, deadline=None)
@given(phrase=st.sampled_from([p for ps in PHRASES.values() for p in ps]), index=st.integers(min_value=0),
       sep=st.sampled_from([" ", "，", ", ", "! ", "。"]), before=st.booleans())
def test_a_question_with_small_talk_around_it_is_a_question(real_catalogue: Catalogue, phrase: str, index: int,
                                                            sep: str, before: bool) -> None:
    questions = [q for t in real_catalogue for lang in LANGS for q in t.questions.get(lang)]
    question = questions[index % len(questions)]
    assert small_talk(phrase + sep + question if before else question + sep + phrase) is None


def test_the_matcher_offers_no_topic_for_small_talk(matcher: Matcher) -> None:
    result = matcher.match("good morning")  # once a choice with gas account closure
    assert (result.outcome, result.alternatives, result.small_talk) == ("off_topic", [], "greeting")
    assert matcher.match("燃气过户要带什么").small_talk is None

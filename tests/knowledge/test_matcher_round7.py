"""Issue 14, round 7: colloquial head counts (人头) fold into the word the tiered-water topic uses (人口)."""

from __future__ import annotations

from knowledge import Matcher
from knowledge.normalize import clean


def test_a_head_count_is_a_household_count() -> None:
    assert clean("能不能按人头多算点") == "能不能按人口多算点"


def test_a_head_count_question_is_the_tiered_household_topic(matcher: Matcher) -> None:
    # Before the fold, "人头" matched nothing and 水费/阶梯 made it a tariff question.
    result = matcher.match("我家六个人，水费阶梯能按人头多算点吗")
    assert (result.outcome, result.topic) == ("answer", "water.tiered-household")

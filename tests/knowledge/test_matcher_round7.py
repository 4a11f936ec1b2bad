"""Issue 14, round 7: residents' words the topics lacked (人头, 灶台, 星期天, 啷个, cracked, bits, dead sockets)."""

from __future__ import annotations

import pytest

from knowledge import Matcher
from knowledge.normalize import clean, normalize


def test_a_head_count_is_a_household_count() -> None:
    assert clean("能不能按人头多算点") == "能不能按人口多算点"


def test_a_head_count_question_is_the_tiered_household_topic(matcher: Matcher) -> None:
    # Before the fold, "人头" matched nothing and 水费/阶梯 made it a tariff question.
    result = matcher.match("我家六个人，水费阶梯能按人头多算点吗")
    assert (result.outcome, result.topic) == ("answer", "water.tiered-household")


def test_water_escaping_in_residents_words_is_a_leak(matcher: Matcher) -> None:
    # Before the fold, "cracked", "spraying" and "pavement" matched nothing: a choice, or a tariff question.
    for question in ("the pipe behind the toilet cracked and water is spraying out",
                     "water spurting out of the pavement by our gate"):
        result = matcher.match(question)
        assert (result.outcome, result.topic) == ("answer", "water.leak-report"), question


def test_bits_in_the_water_are_a_quality_question(matcher: Matcher) -> None:
    # Before the fold these matched nothing: a choice led by water suspension or the tariff.
    for question in ("black specks floating in my glass of water", "tiny particles in the water"):
        result = matcher.match(question)
        assert (result.outcome, result.topic) == ("answer", "water.quality"), question


def test_the_stove_top_is_the_stove(matcher: Matcher) -> None:
    # 灶台 / 灶头 are what residents call the 灶具 the topics name; "修灶台" was a dead end before the fold.
    result = matcher.match("修灶台")
    assert result.outcome == "choice" and "gas.appliance-repair" in [s for s, _ in result.alternatives]
    assert clean("灶头坏了") == clean("灶具坏了")


def test_dead_sockets_are_a_power_fault(matcher: Matcher) -> None:
    # The power-fault topic named sockets only in Chinese (插座没电); "dead" alone pointed at a deceased owner.
    # Before: a choice led by proxy / the gas card, without power faults.
    for question in ("dead sockets in the bedroom", "sockets not working in half the flat"):
        result = matcher.match(question)
        assert (result.outcome, result.topic) == ("answer", "power.fault"), question


@pytest.mark.parametrize(("question", "slug"), [
    ("the account is still in my late wife's name", "gas.transfer"),
    ("can we add a new gas point in the utility room", "gas.modification"),
    ("water coming up from the ground by the gate", "water.leak-report"),
])
def test_situations_the_english_keywords_lacked(matcher: Matcher, question: str, slug: str) -> None:
    # Before: a choice led by the wrong topic (tiered household, -, tariff) or not confident enough.
    result = matcher.match(question)
    assert (result.outcome, result.topic) == ("answer", slug)


def test_water_on_hold_leads_to_suspension(matcher: Matcher) -> None:
    result = matcher.match("put the water on hold for the winter")  # before: water transfer first
    assert result.alternatives[0][0] == "water.suspend"


def test_weekend_days_and_sichuan_words(matcher: Matcher) -> None:
    # 星期天 / 礼拜天 are the 周末 of the opening-hours topic (before: a choice); 啷个 is "how", 哪点 "where".
    result = matcher.match("星期天能去营业厅办事不")
    assert (result.outcome, result.topic) == ("answer", "general.service-hours")
    assert clean("礼拜天") == clean("星期日") == "周末"
    assert normalize("燃气卡啷个充值") == normalize("燃气卡怎么充值")
    assert normalize("哪点买气") == normalize("哪里买气")

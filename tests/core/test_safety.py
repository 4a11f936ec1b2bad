"""core.safety: one table of what is and is not a gas-leak report, in simplified and traditional Chinese and English."""

from __future__ import annotations

import pytest

from core import questions
from core.safety import Emergency, detect_emergency

GAS = Emergency.gas_leak

CASES = [
    # Cues: the old fault-form list and the old outage-question list, both kept.
    ("I smell gas", GAS),
    ("there is a smell of gas in the kitchen", GAS),
    ("It smells like gas downstairs", GAS),
    ("Gas leak!!", GAS),
    ("the pipe is leaking gas", GAS),
    ("rotten eggs smell near the meter", GAS),
    ("煤气味", GAS),
    ("家里有燃气味", GAS),
    ("闻到天然气味", GAS),
    ("漏气了", GAS),
    ("燃气泄露", GAS),
    ("楼道里一股臭鸡蛋味", GAS),
    ("我聞到煤氣味", GAS),  # traditional characters
    ("廚房煤氣洩漏", GAS),
    ("燃气漏气了，没气了", GAS),  # a leak is never "just an outage" (R20)
    # Doubtful: a leak or a smell with no supply named is treated as gas (the safe answer).
    ("有泄漏，怎么办", GAS),
    ("There is a leak", GAS),
    ("家里有股气味", GAS),
    ("燃气管道泄漏", GAS),  # gas named: a leak beside it is a gas leak
    ("the water heater is leaking", GAS),  # a gas appliance named wins over "water"
    # Not cues.
    ("gas bill", None),
    ("how do I pay my gas bill", None),
    ("燃气费", None),
    ("燃气费怎么交", None),
    ("漏水", None),  # a water leak is its own, non-gas case
    ("厨房水管接头漏水，从早上开始", None),
    ("水管泄漏", None),
    ("water leak under the sink", None),
    ("车胎漏气了", None),  # a flat tyre
    ("no gas since morning", None),
    ("我家没气了", None),
    ("二手房燃气怎么过户", None),
    ("今天天气怎么样", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_detect_emergency(text, expected) -> None:
    assert detect_emergency(text) is expected


@pytest.mark.parametrize("text,expected", CASES)
def test_an_emergency_is_never_answered_as_an_outage_question(text, expected) -> None:
    # core.questions asks the same detector: what it calls a leak is never an outage question.
    if expected is not None:
        assert questions.supply_question(text) == (False, None)

"""core.questions: the question log and recognising questions about a supply being off (R9)."""

from __future__ import annotations

import pytest

from core import questions
from db.enums import QuestionOutcome, Utility
from tests.support.context import NOW
from tests.support.knowledge_bot import make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")


@pytest.mark.parametrize("text,expected", [
    ("为什么停水了", (True, Utility.water)),
    ("家里没水了，怎么回事", (True, Utility.water)),
    ("為什麼停電了？", (True, Utility.power)),  # traditional characters
    ("什么时候来电", (True, Utility.power)),
    ("no power since morning", (True, Utility.power)),
    ("Power cut in my building!", (True, Utility.power)),
    ("my gas is off", (True, Utility.gas)),
    ("停水停电了", (True, None)),  # two utilities: look at all of them
    ("any outage near me?", (True, None)),
    ("燃气漏气了，没气了", (False, None)),  # a leak is an emergency first (R20), never "just an outage"
    ("I smell gas, no gas now", (False, None)),
    ("二手房燃气怎么过户", (False, None)),
    ("how do I transfer my water account", (False, None)),
    ("shortcut to the menu", (False, None)),
    ("今天天气怎么样", (False, None)),
])
def test_supply_question(text, expected) -> None:
    assert questions.supply_question(text) == expected


async def test_log_bounds_text_and_records_alternatives(session) -> None:
    await make_resident(session)
    row = await questions.log_question(session, resident_id=10001, text="x" * 10_000, language="zh_Hans",
                                       outcome=QuestionOutcome.ambiguous, now=NOW, score=51.234,
                                       alternatives=[("gas.transfer", 51.234), ("water.transfer", 49.0)])
    assert len(row.text) == questions.MAX_STORED_CHARS and row.score == 51.23
    assert questions.offered_topics(row) == ["gas.transfer", "water.transfer"]
    summary = questions.exchange_summary(row)
    assert summary["outcome"] == "ambiguous" and summary["alternatives"] == ["gas.transfer", "water.transfer"]


async def test_outcome_transitions_only_for_the_owner(session) -> None:
    await make_resident(session)
    await make_resident(session, user_id=2, first_name="B")
    amb = await questions.log_question(session, resident_id=10001, text="过户", language="zh_Hans",
                                       outcome=QuestionOutcome.ambiguous, now=NOW)
    miss = await questions.log_question(session, resident_id=10001, text="?", language="zh_Hans",
                                        outcome=QuestionOutcome.no_match, now=NOW)
    # Someone else's question, an unknown id, or a transition that makes no sense: nothing changes.
    assert await questions.set_outcome(session, question_id=amb.id, resident_id=2,
                                       outcome=QuestionOutcome.chose, topic="gas.transfer") is None
    assert await questions.set_outcome(session, question_id=999, resident_id=10001,
                                       outcome=QuestionOutcome.chose) is None
    assert await questions.set_outcome(session, question_id=miss.id, resident_id=10001,
                                       outcome=QuestionOutcome.chose, topic="gas.transfer") is None
    assert await questions.set_outcome(session, question_id=amb.id, resident_id=10001,
                                       outcome=QuestionOutcome.answered) is None
    chosen = await questions.set_outcome(session, question_id=amb.id, resident_id=10001,
                                         outcome=QuestionOutcome.chose, topic="gas.transfer")
    assert (chosen.outcome, chosen.topic) == (QuestionOutcome.chose, "gas.transfer")
    handed = await questions.set_outcome(session, question_id=miss.id, resident_id=10001,
                                         outcome=QuestionOutcome.handed_off)
    assert handed.outcome is QuestionOutcome.handed_off and handed.topic is None
    assert [r.id for r in await questions.recent_questions(session, 10001)] == [miss.id, amb.id]
    assert await questions.get_question(session, question_id=miss.id, resident_id=2) is None

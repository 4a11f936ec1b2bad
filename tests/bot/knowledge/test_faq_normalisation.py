"""Issue 14, second round: the new normalisation, through the real Dispatcher and the real matcher.

Dialect words, English negations, irregular forms, the utility thesaurus, words split in two,
three-letter typos, numbers kept inside their phrase, variant characters and a rambling story:
each ends in the right answer or in a choice that contains the right topic, never in "I did
not understand". (None of these questions is in the benchmark sets.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.enums import QuestionOutcome
from db.models import QuestionLog
from tests import updates
from tests.support.knowledge_bot import buttons, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")

CASES = [
    ("dialect", "俺屋头的燃气卡整丢了 咋个补", "gas.ic-card-replace"),  # 俺/咋个 cut, 屋头 -> 家, 整丢 -> 丢
    ("dialect", "咱家水管子遭冻裂了 到处冒水", "water.leak-report"),
    ("negation", "the burner on my gas cooker won't stay lit", "gas.appliance-repair"),  # won't -> not
    ("irregular", "paid the overdue gas bill yesterday, when is the gas turned back on", "gas.arrears-reconnect"),
    ("thesaurus", "is the gas inspector at my door genuine", "gas.safety-inspection"),  # inspector -> inspect
    ("thesaurus", "my apartment tap water looks rusty", "water.quality"),  # apartment -> flat, rusty -> brown
    ("compound", "can i pre pay for six months", "general.prepayment"),  # pre pay -> prepay
    ("short_typo", "gas lek in kitchen", "gas.leak"),  # lek -> leak
    ("numbers", "先存1000块进账户", "general.prepayment"),  # 存1000块 -> 存钱
    ("variant", "燃气帐户怎么开", "gas.open-account"),  # 帐 -> 账
    ("rambling", "我老伴前年走了，现在一个人住，孩子都在外地，"
                 "昨天晚上闻到厨房里有股煤气味，吓得我一夜没睡好，到底该怎么办", "gas.leak"),
]


async def _log(session) -> QuestionLog:
    session.expire_all()
    return (await session.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()


@pytest.mark.parametrize(("kind", "question", "slug"), CASES, ids=[f"{k}-{i}" for i, (k, _q, _s) in enumerate(CASES)])
async def test_new_normalisation_reaches_the_topic(dp, bot, session, ctx, kind, question, slug) -> None:
    await make_resident(session)
    await dp.feed_update(bot, updates.text(question))
    log = await _log(session)
    assert log is not None and log.text == question
    if log.outcome is QuestionOutcome.answered:
        assert log.topic == slug, (kind, log.topic)
    else:
        assert log.outcome is QuestionOutcome.ambiguous, (kind, log.outcome)
        assert slug in [a["topic"] for a in log.alternatives]
        labels = [t for t, d in buttons(bot.sent()[-1].reply_markup) if d.startswith("aq:")]
        assert ctx.catalogue[slug].title.zh in labels
    assert "没有看懂" not in "\n".join(bot.texts())

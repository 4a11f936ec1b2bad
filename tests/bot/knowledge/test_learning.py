"""Issue 14, learning from residents: a question that ended in a choice is listed in the console with
what the resident chose; staff map it in one click (CSRF form post, audited) and the bot — another
process with its own matcher, sharing only the database — answers that wording in the next message."""

from __future__ import annotations

import re

import httpx
import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select

from api.app import create_app
from core import knowledge
from core.context import AppContext
from db.enums import QuestionOutcome
from db.models import AuditLog, KnowledgeParaphrase, QuestionLog
from tests import updates
from tests.support.console import login
from tests.support.knowledge_bot import buttons, make_resident

pytestmark = pytest.mark.usefixtures("shared_knowledge")

QUESTION = "家里的气表好像不走了"
TOPIC = "gas.bill-adjustment"


@pytest.fixture
async def bot_process(ctx: AppContext):
    """The bot as a separate process would run it: its own context, caches and matcher; the same database."""
    from bot.app import build_dispatcher

    other = AppContext.create(ctx.settings, clock=ctx.clock)
    ctx.settings.flood_burst = 100_000
    yield other, build_dispatcher(other, storage=MemoryStorage())
    await other.close()


async def _csrf(c: httpx.AsyncClient) -> str:
    page = await c.get("/console/knowledge")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_mapped_question_is_answered_by_the_bot_in_the_next_message(ctx, bot, bot_process, staff_users,
                                                                          ) -> None:
    other, dp = bot_process
    async with other.sessionmaker() as s:
        await make_resident(s)
    await dp.feed_update(bot, updates.text(QUESTION))
    offer = bot.sent()[-1]
    choices = {t: d for t, d in buttons(offer.reply_markup) if d.startswith("aq:")}
    assert ctx.catalogue[TOPIC].title.zh in choices, "the bot offers a choice, not an answer, before learning"
    await dp.feed_update(bot, updates.callback(choices[ctx.catalogue[TOPIC].title.zh]))

    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await login(c, "agent")).status_code == 303
        page = await c.get("/console/knowledge")
        row = page.text.split('id="learn"')[1].split("</section>")[0]
        assert QUESTION in row and "chose" in row and TOPIC in row
        assert f'value="{TOPIC}" selected' in row, "what the resident chose is preselected: one click"
        async with ctx.sessionmaker() as s:
            qid = (await s.execute(select(QuestionLog.id).where(QuestionLog.text == QUESTION))).scalar_one()
        token = await _csrf(c)
        # Bad input: a polite 422, nothing stored.
        bad = await c.post("/console/knowledge/map", data={"csrf_token": token, "question_log_id": qid,
                                                            "topic": "no.such-topic"})
        assert bad.status_code == 422
        no_csrf = await c.post("/console/knowledge/map", data={"question_log_id": qid, "topic": TOPIC})
        assert no_csrf.status_code in (400, 403)
        async with ctx.sessionmaker() as s:
            assert (await knowledge.paraphrase_version(s)) == 0
        r = await c.post("/console/knowledge/map", data={"csrf_token": token, "question_log_id": qid, "topic": TOPIC})
        assert r.status_code == 303
        again = await c.post("/console/knowledge/map", data={"csrf_token": token, "question_log_id": qid,
                                                              "topic": TOPIC})
        assert again.status_code == 303
        assert f"✓ {TOPIC}" in (await c.get("/console/knowledge")).text.split('id="learn"')[1]

    async with ctx.sessionmaker() as s:
        [p] = (await s.execute(select(KnowledgeParaphrase))).scalars().all()
        assert (p.topic, p.text, p.question_log_id) == (TOPIC, QUESTION, qid)
        audits = (await s.execute(select(AuditLog).where(AuditLog.action == "knowledge.map"))).scalars().all()
        assert [a.target_id for a in audits] == [TOPIC]

    bot.clear()
    await dp.feed_update(bot, updates.text(QUESTION))
    async with other.sessionmaker() as s:
        last = (await s.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()
    assert (last.outcome, last.topic) == (QuestionOutcome.answered, TOPIC)
    assert not any(d.startswith("aq:") for _t, d in buttons(bot.sent()[-1].reply_markup))


async def test_an_answer_the_resident_said_was_wrong_is_listed_for_staff(ctx, bot, bot_process, staff_users) -> None:
    """"Not what I asked" under a confident answer puts the question on the learning list."""
    other, dp = bot_process
    async with other.sessionmaker() as s:
        await make_resident(s)
    await dp.feed_update(bot, updates.text("燃气怎么过户"))
    not_this = next(d for _t, d in buttons(bot.sent()[-1].reply_markup) if d.startswith("ax:"))
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await login(c, "agent")).status_code == 303
        assert "燃气怎么过户" not in (await c.get("/console/knowledge")).text.split('id="learn"')[1]
        await dp.feed_update(bot, updates.callback(not_this))
        row = (await c.get("/console/knowledge")).text.split('id="learn"')[1].split("</section>")[0]
        assert "燃气怎么过户" in row and "not_this" in row

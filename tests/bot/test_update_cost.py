"""Issue 13, item 4: the per-update cost. The resident and their chat with staff come in ONE statement, so
the cheapest updates (/menu, a stale button, a message relayed while a chat is open) cost one SQL statement.
Counted with a SQLAlchemy engine event, so a new per-update query anywhere in the shared stack fails here."""

from __future__ import annotations

from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select

from bot.app import build_dispatcher
from core import handoff
from db.enums import ConversationStatus
from db.models import Conversation, Resident
from tests import updates
from tests.support.sql import statements


async def _resident(session, ctx, user_id=updates.RESIDENT) -> Resident:
    r = Resident(id=user_id, first_name="王建国", language="zh_Hans", guided_mode=False, blocked=False,
                 link_failures=0, misses=0, created_at=ctx.clock.now(), last_seen_at=ctx.clock.now())
    session.add(r)
    await session.commit()
    return r


async def _cheapest_updates_cost_one_statement(dp, bot, session, ctx) -> None:
    await _resident(session, ctx)
    for update in (updates.text("/menu"), updates.callback("zz:stale"), updates.text("/help"),
                   updates.callback("ho:end:notanumber")):
        with statements(ctx) as seen:
            await dp.feed_update(bot, update)
        # One joined statement, and no transaction: nothing here writes (issue 13).
        assert len(seen) == 1, seen
        assert "resident" in seen[0] and "conversation" in seen[0]
    assert bot.sent()


async def test_cheapest_updates_cost_one_statement(dp, bot, session, ctx) -> None:
    await _cheapest_updates_cost_one_statement(dp, bot, session, ctx)


async def test_cheapest_updates_cost_one_statement_on_postgresql(pg_ctx, bot) -> None:
    pg_ctx.settings.flood_burst = 100_000
    async with pg_ctx.sessionmaker() as session:
        await _cheapest_updates_cost_one_statement(build_dispatcher(pg_ctx, storage=MemoryStorage()), bot,
                                                   session, pg_ctx)


async def test_handoff_filter_and_resident_load_share_one_statement(dp, bot, session, ctx) -> None:
    resident = await _resident(session, ctx)
    conv = await handoff.request_handoff(session, ctx=ctx, resident=resident, reason=handoff.Reason.button)
    assert conv.status == ConversationStatus.queued
    # A dice roll in an open chat: the handoff filter runs for every relay handler, then the "cannot be passed
    # on" answer; nothing is written, so the whole update is the one joined load.
    bot.clear()
    with statements(ctx) as seen:
        await dp.feed_update(bot, updates.sticker_like())
    assert len(seen) == 1, seen
    assert len(bot.sent()) == 1
    # A relayed text: the load is still one statement; the rest are the relay's own writes.
    with statements(ctx) as seen:
        await dp.feed_update(bot, updates.text("水管漏水了"))
    loads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM resident" in s]
    conv_selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM conversation " in s
                    and "status IN" in s]
    assert len(loads) == 1 and not conv_selects, seen
    status = (await session.execute(select(Conversation.status).where(Conversation.id == conv.id))).scalar_one()
    assert status == ConversationStatus.queued

"""Issue 13, item 4: the resident cached between updates (core/resident_cache.py), on SQLite and PostgreSQL.

A known resident's cheap update costs no statement when the inbox claim says the cached copy is current;
every way the resident or their chat with staff changes (ORM writes from the bot or the console, the bulk
UPDATEs of a claim, a transfer, a blocked bot) bumps the revision, so the next update reads them again —
also in another process, whose cache this process's commit cannot reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import select

from bot.app import build_dispatcher
from core import handoff, inbox, outbox, resident_cache, residents, staff
from core.context import AppContext
from db.enums import ConversationStatus, StaffRole
from db.models import Resident
from tests import updates
from tests.support.sql import sessions_built, statements

WORKER = "test-worker"


async def _rev(ctx: AppContext, user_id: int = updates.RESIDENT) -> int:
    async with ctx.sessionmaker() as s:
        return (await s.execute(select(Resident.cache_rev).where(Resident.id == user_id))).scalar_one()


async def _claimed(ctx: AppContext, raw: dict) -> inbox.Claimed:
    """Store one update and claim it, as the inbox worker does: the claim carries the resident's revision."""
    async with ctx.sessionmaker() as s:
        await inbox.store(s, [raw], now=ctx.clock.now())
        (row,) = await inbox.claim(s, worker=WORKER, now=ctx.clock.now(), limit=10, lease_seconds=30)
    assert row.update_id == raw["update_id"]
    return row


async def _feed(dp, bot, ctx: AppContext, update, built: list[object] | None = None) -> list[str]:
    """The update as the inbox worker hands it over; returns the statements the Dispatcher ran (and lists
    the ORM sessions it built in ``built``)."""
    row = await _claimed(ctx, update.model_dump(mode="json", exclude_none=True, by_alias=True))
    with statements(ctx) as seen, sessions_built() as sessions:
        await dp.feed_update(bot, update, resident_rev=row.resident_rev)
    if built is not None:
        built.extend(sessions)
    async with ctx.sessionmaker() as s:
        await inbox.mark_done(s, row.update_id, worker=WORKER, now=ctx.clock.now())
    return seen


async def _known_resident_costs_nothing(ctx: AppContext, bot) -> None:
    ctx.settings.flood_burst = 100_000
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    first = await _feed(dp, bot, ctx, updates.text("/start"))
    assert any("INSERT INTO resident" in s for s in first)  # first contact: created, and cached at once
    bot.clear()
    for update in (updates.text("/menu"), updates.callback("zz:stale"), updates.text("/help")):
        built: list[object] = []
        seen = await _feed(dp, bot, ctx, update, built)
        assert seen == [], seen  # the claim said the cached copy is current: no statement, no transaction
        assert built == []  # ... and not even an ORM session: nothing used the update's DeferredSession
    assert len(bot.sent()) >= 3  # and every update was still answered


async def test_known_resident_update_runs_no_statement(ctx, bot) -> None:
    await _known_resident_costs_nothing(ctx, bot)


async def test_known_resident_update_runs_no_statement_on_postgresql(pg_ctx, bot) -> None:
    await _known_resident_costs_nothing(pg_ctx, bot)


async def test_without_a_revision_the_resident_is_read(dp, bot, ctx) -> None:
    await dp.feed_update(bot, updates.text("/start"))
    with statements(ctx) as seen:
        await dp.feed_update(bot, updates.text("/menu"))  # fed directly, not through the inbox
    assert len(seen) == 1 and "resident" in seen[0]


async def _every_change_bumps(ctx: AppContext) -> None:
    cache = resident_cache.ResidentCache()
    now = ctx.clock.now()

    async def load() -> tuple[Resident, bool]:
        async with ctx.sessionmaker() as s:
            resident, _ = await residents.get_or_create(s, user_id=updates.RESIDENT, first_name="王", username=None,
                                                        now=now, cache=cache, rev=await _rev(ctx))
            return resident, cache.get(updates.RESIDENT, await _rev(ctx)) is not None

    async with ctx.sessionmaker() as s:
        await residents.get_or_create(s, user_id=updates.RESIDENT, first_name="王", username=None, now=now,
                                      cache=cache)
    async with ctx.sessionmaker() as s:
        agent = await staff.create_staff(s, username="agent1", display_name="A", role=StaffRole.agent,
                                         password="correct horse battery", now=now)
        await s.commit()

    async def changed_by(change) -> None:
        before = await _rev(ctx)
        assert (await load())[1], "cached before the change"
        async with ctx.sessionmaker() as s:
            await change(s)
        assert await _rev(ctx) > before
        assert cache.get(updates.RESIDENT, await _rev(ctx)) is None  # evicted in this process

    async def language(s) -> None:  # an ORM write (the bot's language button)
        resident = await s.get(Resident, updates.RESIDENT)
        await residents.set_language(s, resident, "en")

    async def open_chat(s) -> None:  # a new conversation
        resident = await s.get(Resident, updates.RESIDENT)
        await handoff.request_handoff(s, ctx=ctx, resident=resident, reason=handoff.Reason.button)

    async def claim_chat(s) -> None:  # the console's claim: a bulk UPDATE of the conversation
        conv = await handoff.active_conversation(s, updates.RESIDENT)
        await handoff.claim(s, ctx=ctx, conversation_id=conv.id, staff=agent)

    async def blocked(s) -> None:  # the sender saw "bot was blocked": a bulk UPDATE of the resident
        await outbox.mark_blocked(s, -1, updates.RESIDENT, error="Forbidden")
        await s.commit()

    for change in (language, open_chat, claim_chat, blocked):
        await changed_by(change)
    resident, _ = await load()  # they wrote again, so they are unblocked: another change, another read
    assert resident.language == "en" and not resident.blocked
    resident, cached = await load()
    assert resident.language == "en" and cached
    async with ctx.sessionmaker() as s:
        conv = await handoff.active_conversation(s, updates.RESIDENT)
    assert conv is not None and conv.status == ConversationStatus.active and conv.owner_id == agent.id


async def test_every_change_bumps_the_revision(ctx) -> None:
    await _every_change_bumps(ctx)


async def test_every_change_bumps_the_revision_on_postgresql(pg_ctx) -> None:
    await _every_change_bumps(pg_ctx)


async def test_another_process_change_is_seen_at_the_next_claim(ctx, bot) -> None:
    """A process whose cache this commit cannot evict (another process) still reads the resident again:
    the revision the claim returns no longer matches its copy."""
    ctx.settings.flood_burst = 100_000
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    await _feed(dp, bot, ctx, updates.text("/start"))
    stale = ctx.resident_cache.get(updates.RESIDENT, await _rev(ctx))
    assert stale is not None
    async with ctx.sessionmaker() as s:  # "the other process": the console opens a chat for the resident
        resident = await s.get(Resident, updates.RESIDENT)
        await handoff.request_handoff(s, ctx=ctx, resident=resident, reason=handoff.Reason.button)
    # This process never heard of it: put the old copy back as if the eviction had not reached it.
    ctx.resident_cache.put(updates.RESIDENT, stale.rev, stale.resident, stale.conversation)
    seen = await _feed(dp, bot, ctx, updates.text("我家水管漏了"))
    assert seen and "resident" in seen[0]  # read again ...
    async with ctx.sessionmaker() as s:  # ... so the message went into the open chat, not to the FAQ
        conv = await handoff.active_conversation(s, updates.RESIDENT)
        assert conv is not None
        assert "我家水管漏了" in [m.text for m in await handoff.messages_after(s, conv.id, 0)]


# Bulk statements bypass the ORM's flush hooks: whoever writes one must bump the revisions itself.
CACHED_TABLES = {"Resident", "Conversation"}
ROOT = Path(__file__).resolve().parents[2]


def _unbumped_bulk_writes(tree: ast.Module) -> list[str]:
    """Functions that run ``update(Resident|Conversation)`` / ``delete(...)`` without ``resident_cache.bump``."""
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)]
        writes = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id in ("update", "delete")
                  and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id in CACHED_TABLES]
        bumps = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "bump"
                 and isinstance(c.func.value, ast.Name) and c.func.value.id == "resident_cache"]
        if writes and not bumps:
            found.append(f"{fn.name}:{writes[0].lineno}")
    return found


def test_every_bulk_write_of_a_resident_or_chat_bumps_the_revision() -> None:
    bad = {}
    for package in ("core", "db", "bot", "api", "onestop"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path.name == "resident_cache.py":
                continue
            if found := _unbumped_bulk_writes(ast.parse(path.read_text(encoding="utf-8"))):
                bad[str(path.relative_to(ROOT))] = found
    assert bad == {}, "bulk UPDATE/DELETE of residents or chats without resident_cache.bump (stale caches)"


def test_the_bulk_write_check_sees_a_missing_bump() -> None:
    forgot = ast.parse("async def f(s):\n    await s.execute(update(Conversation).values(owner_id=None))\n")
    kept = ast.parse("async def f(s):\n    await s.execute(update(Resident).values(blocked=True))\n"
                     "    await resident_cache.bump(s, [1])\n")
    assert _unbumped_bulk_writes(forgot) == ["f:2"] and _unbumped_bulk_writes(kept) == []

"""Residents: the Telegram users the bot serves."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.i18n import LOCALES
from core.resident_cache import ResidentCache, load_into
from db.enums import ConversationStatus
from db.models import Conversation, Resident

SEEN_RESOLUTION = timedelta(minutes=5)  # don't write last_seen_at on every update


async def get_or_create(
    session: AsyncSession, *, user_id: int, first_name: str | None, username: str | None, now: datetime,
    cache: ResidentCache | None = None, rev: int | None = None,
) -> tuple[Resident, bool]:
    """Load the resident of an update, creating them on first contact. Writes only when something changed.

    The resident and their open chat with staff come in ONE statement (issue 13: the per-update cost); the
    chat is left in ``session.info`` for ``core.handoff.conversation_for_update``, which then asks nothing.
    The read runs outside a transaction (autocommit, on a connection returned at once) and its objects are
    merged into ``session`` without SQL, so an update whose handler does not touch the database opens no
    transaction at all (on PostgreSQL that saves the BEGIN and ROLLBACK round trips of every update).

    With a ``cache`` and the resident's current revision ``rev`` (the inbox claim returns it), a copy read
    at that revision is used and there is no statement at all (``core.resident_cache``).
    """
    entry = cache.get(user_id, rev) if cache is not None else None
    resident: Resident | None
    if entry is not None:
        resident, conversation = load_into(session, entry)
    else:
        resident, conversation, read_rev = await _read(session, user_id)
        if cache is not None and resident is not None:
            cache.put(user_id, read_rev, resident, conversation)
    session.info.setdefault("active_conversation", {})[user_id] = conversation
    if resident is None:
        resident = Resident(
            id=user_id, first_name=first_name, username=username, created_at=now, last_seen_at=now,
            language=None, guided_mode=False, blocked=False, link_failures=0, link_locked_until=None, misses=0,
            cache_rev=0,
        )
        session.add(resident)
        await session.commit()
        if cache is not None:
            cache.put(user_id, 0, resident, None)
        return resident, True
    changed = False
    if resident.blocked:  # they wrote to us, so they unblocked the bot
        resident.blocked = False
        changed = True
    if resident.last_seen_at is None or now - resident.last_seen_at > SEEN_RESOLUTION:
        resident.last_seen_at = now
        resident.first_name = first_name
        resident.username = username
        changed = True
    if changed:
        await session.commit()
    return resident, False


_OPEN = (ConversationStatus.queued, ConversationStatus.active)


async def _read(session: AsyncSession, user_id: int) -> tuple[Resident | None, Conversation | None, int]:
    """The resident, their open chat and the revision both were read at (one statement)."""
    open_chat = and_(Conversation.resident_id == Resident.id, Conversation.status.in_(_OPEN))
    q = (select(Resident, Conversation).outerjoin(Conversation, open_chat).where(Resident.id == user_id)
         .order_by(Conversation.id.desc()).limit(1))
    engine = session.bind
    if not isinstance(engine, AsyncEngine) or session.in_transaction():
        row = (await session.execute(q)).first()  # already in a unit of work: read inside it
        return (row[0], row[1], row[0].cache_rev) if row is not None else (None, None, 0)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        async with AsyncSession(bind=conn, expire_on_commit=False) as reader:
            row = (await reader.execute(q)).first()
    if row is None:
        return None, None, 0
    resident = await session.merge(row[0], load=False)
    conversation = await session.merge(row[1], load=False) if row[1] is not None else None
    return resident, conversation, row[0].cache_rev


async def set_language(session: AsyncSession, resident: Resident, language: str) -> None:
    if language not in LOCALES:
        raise ValueError(f"unsupported language {language!r}")
    resident.language = language
    await session.commit()


async def set_guided_mode(session: AsyncSession, resident: Resident, enabled: bool) -> None:
    resident.guided_mode = enabled
    await session.commit()


async def record_miss(session: AsyncSession, resident: Resident) -> int:
    """Count a not-understood message; returns the number in a row."""
    resident.misses = (resident.misses or 0) + 1
    await session.commit()
    return resident.misses


async def clear_misses(session: AsyncSession, resident: Resident) -> None:
    if resident.misses:
        resident.misses = 0
        await session.commit()

"""Residents: the Telegram users the bot serves."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import ConversationStatus
from core.i18n import LOCALES
from db.models import Conversation, Resident

SEEN_RESOLUTION = timedelta(minutes=5)  # don't write last_seen_at on every update


async def get_or_create(
    session: AsyncSession, *, user_id: int, first_name: str | None, username: str | None, now: datetime
) -> tuple[Resident, bool]:
    """Load the resident of an update, creating them on first contact. Writes only when something changed.

    The resident and their open chat with staff come in ONE statement (issue 13: the per-update cost); the
    chat is left in ``session.info`` for ``core.handoff.conversation_for_update``, which then asks nothing.
    """
    open_chat = and_(Conversation.resident_id == Resident.id,
                     Conversation.status.in_((ConversationStatus.queued, ConversationStatus.active)))
    q = (select(Resident, Conversation).outerjoin(Conversation, open_chat).where(Resident.id == user_id)
         .order_by(Conversation.id.desc()).limit(1))
    row = (await session.execute(q)).first()
    resident = row[0] if row is not None else None
    session.info.setdefault("active_conversation", {})[user_id] = row[1] if row is not None else None
    if resident is None:
        resident = Resident(
            id=user_id, first_name=first_name, username=username, created_at=now, last_seen_at=now,
            guided_mode=False, blocked=False, link_failures=0, misses=0,
        )
        session.add(resident)
        await session.commit()
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

"""Who hears a notice and the broadcast of one update to them.

Who hears a notice: every resident with a linked account whose address is in the area (whatever the
account's utility: a water cut affects everyone living in the building), plus every resident subscribed
to one of the area's districts. Follow-ups (delay, extension, reminder, restoration, cancellation) go to
that audience again, together with everyone already told about this outage, one message per resident per
update (the outbox ``dedupe_key`` makes a repeat impossible).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Subquery, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core import broadcasts
from core.context import AppContext
from core.i18n import DEFAULT_LOCALE, LOCALES
from core.outages.areas import area_clause, area_districts, area_label
from core.outages.texts import event_text
from core.outbox import message_payload
from db.enums import AccountState, OutboxStatus
from db.models import (
    AccountLink,
    Broadcast,
    DistrictSubscription,
    OutageEvent,
    OutageNotice,
    OutboxNotification,
    Resident,
    UtilityAccount,
)

# --- audience ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudiencePreview:
    by_language: dict[str, int]
    blocked: int  # residents in the area who blocked the bot: they cannot be told here
    linked: int  # through a linked account in the area
    subscribed: int  # through a district subscription only

    @property
    def total(self) -> int:
        return sum(self.by_language.values())


def _audience_ids(outage: OutageNotice, *, include_told: bool) -> Subquery:
    linked = (
        select(AccountLink.resident_id)
        .join(UtilityAccount, UtilityAccount.id == AccountLink.account_id)
        .where(area_clause(outage.area), UtilityAccount.state != AccountState.dismantled)
    )
    subscribed = select(DistrictSubscription.resident_id).where(
        DistrictSubscription.district.in_(area_districts(outage.area))
    )
    parts = [linked, subscribed]
    if include_told and outage.id is not None:
        parts.append(
            select(OutboxNotification.resident_id)
            .join(Broadcast, Broadcast.id == OutboxNotification.broadcast_id)
            .join(OutageEvent, OutageEvent.id == Broadcast.outage_event_id)
            .where(OutageEvent.outage_id == outage.id, OutboxNotification.status != OutboxStatus.cancelled)
        )
    return union(*parts).subquery()


async def audience(session: AsyncSession, outage: OutageNotice, *, include_told: bool = True
                   ) -> list[tuple[int, str]]:
    """(resident id, language) of everyone to tell, each once; residents who blocked the bot are left out."""
    ids = _audience_ids(outage, include_told=include_told)
    rows = await session.execute(
        select(Resident.id, Resident.language).where(Resident.id.in_(select(ids.c[0])), Resident.blocked.is_(False))
        .order_by(Resident.id)
    )
    return [(rid, lang if lang in LOCALES else DEFAULT_LOCALE) for rid, lang in rows]


async def audience_preview(session: AsyncSession, outage: OutageNotice) -> AudiencePreview:
    """How many residents a notice will reach, by language, before it is sent."""
    ids = _audience_ids(outage, include_told=True)
    rows = await session.execute(
        select(Resident.language, Resident.blocked, func.count()).where(Resident.id.in_(select(ids.c[0])))
        .group_by(Resident.language, Resident.blocked)
    )
    by_language = dict.fromkeys(LOCALES, 0)
    blocked = 0
    for lang, is_blocked, n in rows:
        if is_blocked:
            blocked += n
        else:
            by_language[lang if lang in LOCALES else DEFAULT_LOCALE] += n
    linked_q = (
        select(func.count(func.distinct(AccountLink.resident_id)))
        .join(UtilityAccount, UtilityAccount.id == AccountLink.account_id)
        .join(Resident, Resident.id == AccountLink.resident_id)
        .where(area_clause(outage.area), UtilityAccount.state != AccountState.dismantled,
               Resident.blocked.is_(False))
    )
    linked = (await session.execute(linked_q)).scalar_one()
    return AudiencePreview(by_language, blocked, linked, max(0, sum(by_language.values()) - linked))


async def broadcast_event(session: AsyncSession, *, ctx: AppContext, outage: OutageNotice, event: OutageEvent,
                          staff_id: int | None, include_told: bool = True,
                          notes: Mapping[str, str] | None = None) -> Broadcast:
    recipients = await audience(session, outage, include_told=include_told)
    translator = ctx.translator
    texts = {lang: event_text(outage, event.kind, lang, note=(notes or {}).get(lang), translator=translator)
             for lang in LOCALES}
    title = f"{outage.number} {event.kind}: {area_label(outage.area, 'en')}"[:255]
    return await broadcasts.fan_out(
        session, title=title, kind=f"outage_{event.kind}", recipients=recipients,
        payloads={lang: message_payload(text) for lang, text in texts.items()},
        now=ctx.clock.now(), staff_id=staff_id, outage_event_id=event.id,
        # Once-only updates share a fixed key, so even a racing double click cannot send them twice.
        dedupe_prefix=f"outage:{outage.id}:{event.kind}" if event.kind in ("announced", "restored", "cancelled")
        else f"outage:{outage.id}:e{event.id}",
    )

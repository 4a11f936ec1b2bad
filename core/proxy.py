"""R16 proxy and assisted service (代办帮办): someone applying for the owner brings their own ID, proof of the
relation (or the owner's signed authorisation when not close family), the owner's ID and the property
documents. The bot asks the relation and which of the four they have, records the application, and the
assisted-service checklist lists at once what is still missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.tickets import InvalidInput
from db.models import ProxyApplication, Resident


def N_(message: str) -> str:
    return message


class Relation(StrEnum):
    spouse = "spouse"
    child = "child"
    parent = "parent"
    relative = "relative"  # other family
    other = "other"  # not family: needs the owner's signed authorisation


class Document(StrEnum):
    own_id = "own_id"
    relation_proof = "relation_proof"
    owner_id = "owner_id"
    property_docs = "property_docs"


DOCUMENTS: tuple[Document, ...] = tuple(Document)

RELATION_LABELS: dict[Relation, str] = {
    Relation.spouse: N_("Husband or wife"),
    Relation.child: N_("Son or daughter"),
    Relation.parent: N_("Father or mother"),
    Relation.relative: N_("Other relative"),
    Relation.other: N_("Not family (friend, tenant, carer)"),
}

DOCUMENT_LABELS: dict[Document, str] = {
    Document.own_id: N_("Your own ID card (original)"),
    Document.relation_proof: N_("Proof of your relation: household register, marriage or birth certificate"),
    Document.owner_id: N_("The owner's ID card (original)"),
    Document.property_docs: N_("Property documents: ownership certificate or purchase contract"),
}
# Not family: the relation is shown by the owner's signed authorisation letter instead.
AUTHORISATION_LABEL = N_("The owner's signed authorisation letter (names, ID numbers and the matter)")


def document_label(doc: Document, relation: Relation | str | None) -> str:
    if doc is Document.relation_proof and relation == Relation.other:
        return AUTHORISATION_LABEL
    return DOCUMENT_LABELS[doc]


def missing(documents: Iterable[str]) -> list[Document]:
    """The assisted-service checklist: what is still missing, in the order it is listed."""
    have = set(documents)
    return [d for d in DOCUMENTS if d.value not in have]


async def record(session: AsyncSession, *, resident_id: int, relation: str, documents: Iterable[str],
                 now: Any, account_id: int | None = None) -> ProxyApplication:
    """Record (or update, for the same resident within the same form) a proxy application. Commits."""
    try:
        rel = Relation(relation)
    except ValueError:
        raise InvalidInput("unknown relation") from None
    docs = sorted({Document(d).value for d in documents})
    row = ProxyApplication(resident_id=resident_id, account_id=account_id, relation=rel.value, documents=docs,
                           created_at=now, updated_at=now)
    session.add(row)
    await session.commit()
    return row


async def latest(session: AsyncSession, resident_id: int) -> ProxyApplication | None:
    q = select(ProxyApplication).where(ProxyApplication.resident_id == resident_id).order_by(
        ProxyApplication.id.desc()).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


async def recent(session: AsyncSession, *, limit: int = 200) -> list[tuple[ProxyApplication, Resident]]:
    """The assisted-service desk's list (R16): newest applications first, with who applied."""
    q = (select(ProxyApplication, Resident).join(Resident, Resident.id == ProxyApplication.resident_id)
         .order_by(ProxyApplication.id.desc()).limit(limit))
    return [(app, res) for app, res in (await session.execute(q)).all()]

"""The resident and their open chat with staff, cached between updates (issue 13: the cheapest update).

Every update needs the resident and whether they are in a chat with staff. Reading them is one statement,
and for a cheap update (``/menu``, a stale button) that round trip is most of the cost. This module keeps a
copy per process and knows without a query whether it is still current:

* ``resident.cache_rev`` is bumped by **every** change to the resident's row or to one of their
  conversations: ORM flushes through the session hooks below (the console, the bot, the scheduler all use
  the ORM), bulk ``UPDATE`` statements through ``bump``.
* The inbox claim (``core.inbox.claim``) returns the resident's ``cache_rev`` with each update, in the
  statement it runs anyway. A cached copy read at that revision is current; otherwise the resident is read
  again (one statement) and the copy replaced. This holds across processes: another process's change bumps
  the revision in the database, and the next claim here sees it.
* Within a process, a commit that changed a resident also evicts them from every cache at once, so an
  update claimed just before the commit cannot be served the old copy after it.

The cached objects are detached and never handed out: ``load_into`` merges a copy into the update's session
without SQL (``merge(load=False)``), so handlers change and commit them exactly as if they had been read.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, Session, UOWTransaction, make_transient_to_detached

from db.models import Conversation, Resident
from db.session import DeferredSession

_PENDING = "resident_cache.changed"  # session.info: residents changed in the open transaction
_BUMPED = "resident_cache.bumped"  # ... whose revision this transaction already bumped


@dataclass(frozen=True)
class Entry:
    rev: int
    resident: Resident
    conversation: Conversation | None  # the open (queued or active) chat with staff, if any


class ResidentCache:
    """Bounded LRU of detached (resident, open chat) pairs by Telegram user id."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        _caches.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: int, rev: int | None) -> Entry | None:
        """The cached pair if it was read at revision ``rev`` (None: the caller does not know the revision)."""
        if rev is None:
            return None
        entry = self._entries.get(user_id)
        if entry is None or entry.rev != rev:
            return None
        self._entries.move_to_end(user_id)
        return entry

    def put(self, user_id: int, rev: int, resident: Resident, conversation: Conversation | None) -> None:
        """Keep copies of the pair; not if a column is unloaded (a copy could not serve it without SQL)."""
        if not (_loaded(resident) and (conversation is None or _loaded(conversation))):
            self._entries.pop(user_id, None)
            return
        copy = _detached_copy(conversation) if conversation is not None else None
        self._entries[user_id] = Entry(rev, _detached_copy(resident), copy)
        self._entries.move_to_end(user_id)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def evict(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        self._entries.clear()


_Row = TypeVar("_Row", Resident, Conversation)
_caches: weakref.WeakSet[ResidentCache] = weakref.WeakSet()


def load_into(session: AsyncSession, entry: Entry) -> tuple[Resident, Conversation | None]:
    """Copies of the cached pair, attached to ``session`` without a statement.

    A ``DeferredSession`` not built yet is not built for them: the copies join it if it is ever used, and
    until then they are read as they are (an update that only reads the resident builds no session).
    """
    resident = _attach(session, entry.resident)
    conversation = _attach(session, entry.conversation) if entry.conversation is not None else None
    return resident, conversation


def _attach(session: AsyncSession, cached: _Row) -> _Row:
    if isinstance(session, DeferredSession):
        copy = _fast_copy(cached)
        session.add_on_start(copy)
        return copy
    return session.sync_session.merge(cached, load=False)


def _loaded(obj: Resident | Conversation) -> bool:
    state: InstanceState[Any] = inspect(obj)
    return all(attr.key in state.dict for attr in state.mapper.column_attrs)


def _detached_copy(obj: _Row) -> _Row:
    """A detached copy holding the loaded column values only: nothing can lazy-load through it, and the
    object the caller goes on using is not shared with the cache."""
    copy: _Row = _column_copy(inspect(obj))
    make_transient_to_detached(copy)
    return copy


def _fast_copy(obj: _Row) -> _Row:
    """``_detached_copy`` of a cached copy, for every update that uses one: a cached copy is already detached
    with every column loaded and no pending change, so the copy only needs its values and identity key
    (``make_transient_to_detached`` would also walk the unloaded relationships to mark them expired; unloaded
    or expired, they load the same way on access)."""
    state: InstanceState[Any] = inspect(obj)
    copy: _Row = _column_copy(state)
    inspect(copy).key = state.key
    return copy


def _column_copy(state: InstanceState[Any]) -> Any:
    """A new, transient instance holding the column values of ``state``'s object, built as the ORM's loader
    builds rows (no ``__init__``)."""
    copy = state.mapper.class_manager.new_instance()
    inspect(copy).dict.update({key: state.dict[key] for key in _column_keys(state.mapper)})
    return copy


_COLUMN_KEYS: dict[Any, tuple[str, ...]] = {}


def _column_keys(mapper: Any) -> tuple[str, ...]:
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = tuple(attr.key for attr in mapper.column_attrs)
    return keys


async def bump(session: AsyncSession, resident_ids: Iterable[int]) -> None:
    """After a bulk ``UPDATE`` of residents or conversations the ORM does not see: bump their revisions in
    the caller's transaction (evicted from this process's caches when it commits)."""
    ids = set(resident_ids)
    if ids:
        await session.run_sync(lambda sync: _bump(sync, ids))


def _bump(session: Session, ids: set[int]) -> None:
    bumped: set[int] = session.info.setdefault(_BUMPED, set())
    todo = sorted(ids - bumped)
    if todo:
        session.connection().execute(
            update(Resident).where(Resident.id.in_(todo)).values(cache_rev=Resident.cache_rev + 1)
            .execution_options(synchronize_session=False))
        bumped.update(todo)
    session.info.setdefault(_PENDING, set()).update(ids)


def _changed_residents(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, Resident | Conversation) and session.is_modified(obj, include_collections=False):
            ids.add(obj.id if isinstance(obj, Resident) else obj.resident_id)
    for obj in session.deleted:
        if isinstance(obj, Resident | Conversation):
            ids.add(obj.id if isinstance(obj, Resident) else obj.resident_id)
    for obj in session.new:
        if isinstance(obj, Conversation):  # a new resident starts at revision 0 and is in no cache
            ids.add(obj.resident_id)
    return ids


@event.listens_for(Session, "after_flush")
def _bump_flushed(session: Session, _flush: UOWTransaction) -> None:
    # after_flush still lists what was flushed (new, dirty, deleted), and foreign keys are set by now.
    ids = _changed_residents(session)
    if ids:
        _bump(session, ids)


@event.listens_for(Session, "after_commit")
def _evict_committed(session: Session) -> None:
    session.info.pop(_BUMPED, None)
    ids = session.info.pop(_PENDING, None)
    if ids:
        for cache in list(_caches):
            cache.evict(ids)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_BUMPED, None)
    session.info.pop(_PENDING, None)

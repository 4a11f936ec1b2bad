"""A routing index: skip the routers and handlers that cannot match an update (issue 13, item 4).

aiogram tries the product's ~20 routers in order and, in each, every handler's filters until one matches: a stale
button went through ~100 handlers, unpacking its data with ~27 ``CallbackData`` classes on the way, before the
fallback took it. Most of those filters can be told "no" by a string comparison. This module reads the filters
of the registered handlers once (nothing is kept by hand) and derives from each a *guard*: a cheap, synchronous
necessary condition — when the guard says no, the filter would certainly have said no. Guards are derived for

- ``CallbackData.filter()``: the data's prefix and number of parts (``acc:view:3`` → prefix ``acc``, 2 fields);
- ``Command``/``CommandStart``: the command name after the prefix (as aiogram parses it; regexp commands: the
  prefix only);
- magic filters ``F.x`` (the field is set), ``F.x == "const"`` and ``F.text == MENU_…`` (a lazy translation: the
  text is one of its translations in any language), ``F.a | F.b``, and ``F.text.method(…)…`` / ``F.text.regexp``
  (the text is not None);
- states: a ``State`` used as a filter, ``StateFilter(…)`` (``raw_state`` is one of them).

Anything else (a function filter, ``"*"``, an unknown filter) gives no guard and is checked by aiogram as
before. A handler is skipped only when one of its guards fails; a router (with its sub-routers) is skipped for an
event type only when none of its handlers can match *and* no router in it has an outer middleware on that event
type (an outer middleware runs before any filter, so it must run as before) — except an outer middleware that
says, through a ``passes_through(event, data)`` method, that for this event it would only call the handler
(``StaleFormMiddleware`` outside its forms). Inner middlewares only run around a
handler that matched, which the index never skips. Filters are assumed pure (no side effect a skipped check
would have had; a filter that raises on an event its guard rejects no longer raises).

Relies on aiogram 3.31 internals, copied below with the index check added (re-check on upgrade;
``tests/bot/test_routing.py`` compares the routing with plain aiogram's on a broad corpus of updates):
``Router._propagate_event`` (root filters, ``observer.trigger``, then sub-routers in order) and
``TelegramEventObserver.trigger`` (per handler: ``handler.check``, then the inner middlewares around
``handler.call``, ``SkipHandler`` moves on); ``FilterObject.magic``/``.callback``, ``MagicFilter._operations``,
``CallbackQueryFilter.callback_data``, ``Command.commands``/``.prefix``/``.ignore_case``, ``StateFilter.states``.
The index is built once by ``install_routing_index`` after every router is included; a handler registered later
makes its observer fall back to aiogram's own loop.
"""

from __future__ import annotations

import operator
import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED, SkipHandler
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.lazy_proxy import LazyProxy  # babel's
from magic_filter import MagicFilter
from magic_filter.operations import (
    ComparatorOperation,
    FunctionOperation,
    GetAttributeOperation,
    ImportantCombinationOperation,
)
from magic_filter.util import or_op

Check = Callable[[Any, dict[str, Any]], bool]

# Event types routed through the index; "update" and "error" are left to aiogram.
_NOT_INDEXED = frozenset({"update", "error"})


@dataclass(frozen=True)
class Guard:
    """A necessary condition for one filter: ``check(event, data)`` False means the filter fails."""

    kind: str  # "callback", "command", "text", "field", "state"
    check: Check
    callback_prefix: str | None = None  # for the router-level index of ":"-separated callback data


@dataclass
class HandlerGuard:
    handler: HandlerObject
    guards: tuple[Guard, ...]
    check: Check | None  # None: no guard, always checked by aiogram

    @property
    def callback_prefix(self) -> str | None:
        return next((g.callback_prefix for g in self.guards if g.callback_prefix is not None), None)


@dataclass
class RoutingIndex:
    handlers: dict[int, HandlerGuard] = field(default_factory=dict)  # id(HandlerObject) -> its guard
    # (router, event type) -> may the router (with its sub-routers) match? None: always enter
    entries: dict[tuple[int, str], Check | None] = field(default_factory=dict)
    skipped_routers: int = 0  # counters, for tests and the profile
    skipped_handlers: int = 0

    def guard_of(self, handler: HandlerObject) -> HandlerGuard | None:
        return self.handlers.get(id(handler))


# --- guards derived from filters ---------------------------------------------------------------------------


def _unwrap(callback: Any) -> Any:
    # bot.inline_filters wraps synchronous filters (State objects among them) with functools.wraps.
    while hasattr(callback, "__wrapped__"):
        callback = callback.__wrapped__
    return callback


def _state_names(state: Any) -> frozenset[str | None] | None:
    """The raw states a State/StatesGroup/str/None accepts; None if any state ("*")."""
    if state is None:
        return frozenset({None})
    if isinstance(state, str):
        return None if state == "*" else frozenset({state})
    if isinstance(state, State):
        return None if state.state == "*" else frozenset({state.state})
    if isinstance(state, StatesGroup):
        return frozenset(type(state).__all_states_names__)
    if isinstance(state, type) and issubclass(state, StatesGroup):
        return frozenset(state.__all_states_names__)
    return None


def _state_guard(states: Iterable[Any]) -> Guard | None:
    allowed: set[str | None] = set()
    for state in states:
        names = _state_names(state)
        if names is None:
            return None
        allowed |= names
    frozen = frozenset(allowed)
    return Guard("state", lambda event, data: data.get("raw_state") in frozen)


def _callback_guard(f: CallbackQueryFilter) -> Guard:
    cls = f.callback_data
    prefix, sep, parts = cls.__prefix__, cls.__separator__, len(cls.model_fields)

    def check(event: Any, data: dict[str, Any]) -> bool:
        value: str | None = getattr(event, "data", None)
        if not value:  # CallbackQueryFilter: no data, no match
            return False
        # CallbackData.unpack: value.split(sep) must give the prefix and exactly one part per field.
        return value.count(sep) == parts and value.split(sep, 1)[0] == prefix

    return Guard("callback", check, callback_prefix=prefix if sep == ":" else None)


def _command_guard(f: Command) -> Guard:
    prefixes = f.prefix
    names = None if any(isinstance(c, re.Pattern) for c in f.commands) else frozenset(f.commands)
    ignore_case = f.ignore_case

    def check(event: Any, data: dict[str, Any]) -> bool:
        text = getattr(event, "text", None) or getattr(event, "caption", None)
        if not text:
            return False
        words = text.split(maxsplit=1)  # Command.extract_command
        if not words:
            return True  # aiogram decides (it refuses it)
        full = words[0]
        if full[0] not in prefixes:
            return False
        if names is None:
            return True
        name = full[1:].partition("@")[0]
        return (name.casefold() if ignore_case else name) in names

    return Guard("command", check)


_TRANSLATIONS: weakref.WeakKeyDictionary[I18n, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()


def _lazy_msgid(value: Any) -> str | None:
    """The msgid of aiogram's ``lazy_gettext("…")`` (babel's LazyProxy keeps its call), else None."""
    if not isinstance(value, LazyProxy):
        return None
    args: tuple[Any, ...] = getattr(value, "_args", ())
    kwargs: dict[str, Any] = getattr(value, "_kwargs", {})
    func = getattr(value, "_func", None)
    if len(args) != 1 or not isinstance(args[0], str) or set(kwargs) - {"enable_cache"}:
        return None
    if getattr(func, "__module__", "") != "aiogram.utils.i18n.context" or getattr(func, "__name__", "") != "gettext":
        return None
    return args[0]


def _translations(msgid: str) -> frozenset[str] | None:
    """Every text ``str(lazy)`` can be under the current I18n: its translation in each locale, or the msgid."""
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        return None
    per = _TRANSLATIONS.setdefault(i18n, {})
    found = per.get(msgid)
    if found is None:
        found = per[msgid] = frozenset({msgid, *(i18n.gettext(msgid, locale=loc) for loc in i18n.available_locales)})
    return found


def _field_is_set(name: str) -> Check:
    return lambda event, data: bool(getattr(event, name, None))


def _magic_guard(magic: MagicFilter) -> Guard | None:
    ops = magic._operations
    if not ops or not isinstance(ops[0], GetAttributeOperation):
        return None
    name = ops[0].name
    if len(ops) == 1:  # F.photo
        return Guard("field", _field_is_set(name))
    second = ops[1]
    if len(ops) == 2 and isinstance(second, ComparatorOperation) and second.comparator is operator.eq:
        right = second.right
        if isinstance(right, str):  # F.text == "…"
            return Guard("text", lambda event, data: getattr(event, name, None) == right)
        msgid = _lazy_msgid(right)
        if msgid is not None:  # F.text == MENU_FAULT: compared in the resident's language

            def check(event: Any, data: dict[str, Any]) -> bool:
                value = getattr(event, name, None)
                if value is None:
                    return False
                texts = _translations(msgid)
                return texts is None or value in texts

            return Guard("text", check)
        return None
    if (len(ops) == 2 and isinstance(second, ImportantCombinationOperation) and second.combinator is or_op
            and isinstance(second.right, MagicFilter) and len(second.right._operations) == 1
            and isinstance(second.right._operations[0], GetAttributeOperation)):  # F.photo | F.document
        other = second.right._operations[0].name
        return Guard("field", lambda event, data: bool(getattr(event, name, None) or getattr(event, other, None)))
    if any(op.important for op in ops[1:]):
        return None
    # F.text.casefold().in_(…), F.text.startswith(…), F.text.regexp(…): on None the next operation is rejected
    # (None has no such method; a regexp on None raises TypeError), so the result is None: the filter fails.
    if (isinstance(second, GetAttributeOperation) and not hasattr(None, second.name)) or (
            isinstance(second, FunctionOperation) and isinstance(getattr(second.function, "__self__", None),
                                                                re.Pattern)):
        return Guard("field", lambda event, data: getattr(event, name, None) is not None)
    return None


def derive_guard(f: FilterObject) -> Guard | None:
    """The guard of one registered filter, or None when it is not understood (then it is always checked)."""
    if f.magic is not None:
        return _magic_guard(f.magic)
    callback = _unwrap(f.callback)
    if isinstance(callback, CallbackQueryFilter):
        return _callback_guard(callback)
    if isinstance(callback, Command):  # CommandStart too: its command is "start"
        return _command_guard(callback)
    if isinstance(callback, StateFilter):
        return _state_guard(callback.states)
    if isinstance(callback, State | StatesGroup):
        return _state_guard([callback])
    return None


def _all(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(event: Any, data: dict[str, Any]) -> bool:
        for c in checks:  # noqa: SIM110  (a plain loop: all() over a generator costs more than the checks)
            if not c(event, data):
                return False
        return True

    return check


def handler_guard(handler: HandlerObject) -> HandlerGuard:
    guards = tuple(g for g in (derive_guard(f) for f in handler.filters or []) if g is not None)
    return HandlerGuard(handler, guards, _all([g.check for g in guards]) if guards else None)


# --- the index ---------------------------------------------------------------------------------------------


def _router_entry(router: Router, event_type: str, index: RoutingIndex) -> Check | None:
    """May ``router`` (with its sub-routers) match an event of this type? None: it must always be entered."""
    guards: list[HandlerGuard] = []
    transparent: list[Any] = []
    for r in router.chain_tail:
        observer = r.observers.get(event_type)
        if observer is None:
            continue
        if observer.outer_middleware:
            # An outer middleware runs before any filter: the router must be entered as before, unless it is a
            # flat router whose every outer middleware says when it only passes the event on (``passes_through``)
            if r is not router or r.sub_routers or not all(
                    callable(getattr(m, "passes_through", None)) for m in observer.outer_middleware):
                return None
            transparent = list(observer.outer_middleware)
        for handler in observer.handlers:
            hg = index.handlers[id(handler)]
            if hg.check is None:
                return None
            guards.append(hg)
    may: Check
    prefixes = [hg.callback_prefix for hg in guards]
    if not guards:
        may = _never  # no handler for this event type: nothing can match
    elif all(p is not None for p in prefixes):
        allowed = frozenset(prefixes)

        def may(event: Any, data: dict[str, Any]) -> bool:
            value: str | None = getattr(event, "data", None)
            return bool(value) and value.split(":", 1)[0] in allowed  # type: ignore[union-attr]
    else:
        checks = [hg.check for hg in guards if hg.check is not None]

        def may(event: Any, data: dict[str, Any]) -> bool:
            return any(c(event, data) for c in checks)

    return _while_unchanged(router, event_type, may, transparent)


def _never(event: Any, data: dict[str, Any]) -> bool:
    return False


def _shape(router: Router, event_type: str) -> tuple[int, ...]:
    shape: list[int] = []
    for r in router.chain_tail:
        observer = r.observers.get(event_type)
        shape += [len(r.sub_routers), len(observer.handlers), len(observer.outer_middleware)] if observer else [-1]
    return tuple(shape)


def _while_unchanged(router: Router, event_type: str, may: Check, transparent: list[Any]) -> Check:
    """``may``, as long as no handler, sub-router or outer middleware was added under ``router`` since; with
    ``transparent`` outer middlewares, the router is also entered whenever one of them would act."""
    observer = router.observers[event_type]
    if router.sub_routers:  # nested: compare the whole subtree's shape
        shape = _shape(router, event_type)
        return lambda event, data: may(event, data) if _shape(router, event_type) == shape else True
    handlers, middlewares = observer.handlers, observer.outer_middleware
    count, layers = len(handlers), len(transparent)

    def check(event: Any, data: dict[str, Any]) -> bool:
        if len(handlers) != count or len(middlewares) != layers or router.sub_routers:
            return True  # changed since the index was built: enter, aiogram decides
        if may(event, data):
            return True
        for m in transparent:  # noqa: SIM110
            if not m.passes_through(event, data):
                return True
        return False

    return check


def _indexed_trigger(observer: TelegramEventObserver, index: RoutingIndex) -> Callable[..., Any]:
    guards = [index.handlers[id(h)] for h in observer.handlers]
    plan = [(hg.handler, hg.check) for hg in guards]
    # Callback data: the handlers a prefix can reach, in registration order (with the handlers of no prefix).
    prefixes = {hg.callback_prefix for hg in guards if hg.callback_prefix is not None}
    by_prefix = {p: [(hg.handler, hg.check) for hg in guards if hg.callback_prefix in (p, None)] for p in prefixes}
    unprefixed = [(hg.handler, hg.check) for hg in guards if hg.callback_prefix is None]
    handlers = observer.handlers
    count = len(handlers)
    original = TelegramEventObserver.trigger

    async def trigger(event: Any, **kwargs: Any) -> Any:
        if observer.handlers is not handlers or len(handlers) != count:  # registered after the index was built
            return await original(observer, event, **kwargs)
        candidates = plan
        if by_prefix:
            value = getattr(event, "data", None)
            candidates = by_prefix.get(value.split(":", 1)[0], unprefixed) if value else unprefixed
        # aiogram 3.31 TelegramEventObserver.trigger, plus the guard before handler.check.
        for handler, guard in candidates:
            if guard is not None and not guard(event, kwargs):
                index.skipped_handlers += 1
                continue
            kwargs["handler"] = handler
            result, data = await handler.check(event, **kwargs)
            if result:
                kwargs.update(data)
                try:
                    middlewares = observer._resolve_middlewares()
                    if not middlewares:  # aiogram would still wrap the call (functools.wraps per update)
                        return await handler.call(event, **kwargs)
                    wrapped_inner = observer.outer_middleware.wrap_middlewares(middlewares, handler.call)
                    return await wrapped_inner(event, kwargs)
                except SkipHandler:
                    continue
        return UNHANDLED

    return trigger


def _indexed_propagate(router: Router, index: RoutingIndex) -> Callable[..., Any]:
    entries = index.entries

    async def _propagate_event(observer: TelegramEventObserver | None, update_type: str, event: Any,
                               **kwargs: Any) -> Any:
        # aiogram 3.31 Router._propagate_event, plus the index check before entering a sub-router.
        response = UNHANDLED
        if observer:
            result, data = await observer.check_root_filters(event, **kwargs)
            if not result:
                return UNHANDLED
            kwargs.update(data)
            response = await observer.trigger(event, **kwargs)
            if response is REJECTED:  # pragma: no cover
                return UNHANDLED
            if response is not UNHANDLED:
                return response
        for sub in router.sub_routers:
            may = entries.get((id(sub), update_type))
            if may is not None and not may(event, kwargs):
                index.skipped_routers += 1
                continue
            response = await sub.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                break
        return response

    return _propagate_event


def _direct_propagate(router: Router) -> Callable[..., Any]:
    """aiogram 3.31 ``Router.propagate_event``, without the outer-middleware wrapper it builds for every router
    an event enters even when the router has no outer middleware (a closure, a partial and functools.wraps)."""
    original = Router.propagate_event

    async def propagate_event(update_type: str, event: Any, **kwargs: Any) -> Any:
        observer = router.observers.get(update_type)
        if observer is not None and observer.outer_middleware:
            return await original(router, update_type, event, **kwargs)
        kwargs["event_router"] = router
        return await router._propagate_event(observer=observer, update_type=update_type, event=event, **kwargs)

    return propagate_event


def build_index(root: Router) -> RoutingIndex:
    index = RoutingIndex()
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                index.handlers[id(handler)] = handler_guard(handler)
    for router in root.chain_tail:
        for event_type in router.observers:
            if event_type not in _NOT_INDEXED:
                entry = _router_entry(router, event_type, index)
                if entry is not None:
                    index.entries[(id(router), event_type)] = entry
    return index


def install_routing_index(root: Router, index: RoutingIndex | None = None) -> RoutingIndex:
    """Build the index for ``root`` and every router under it, and route through it from now on.

    Call once, after every router is included (``build_dispatcher`` does); ``index``: one built before for the
    same routers (the equivalence test switches the index off and on). Observers with a guarded handler get
    the indexed ``trigger``; routers with sub-routers the indexed ``_propagate_event`` (instance attributes
    over aiogram's methods).
    """
    remove_routing_index(root)  # routers are module-level: a previous Dispatcher may have indexed them
    if index is None:
        index = build_index(root)
    for router in root.chain_tail:
        for event_type, observer in router.observers.items():
            if event_type in _NOT_INDEXED:
                continue
            if any(index.handlers[id(h)].check is not None for h in observer.handlers):
                observer.trigger = _indexed_trigger(observer, index)  # type: ignore[method-assign]
        if router.sub_routers:
            router._propagate_event = _indexed_propagate(router, index)  # type: ignore[method-assign]
        router.propagate_event = _direct_propagate(router)  # type: ignore[method-assign]
    root.routing_index = index  # type: ignore[attr-defined]
    return index


def remove_routing_index(root: Router) -> None:
    """Route ``root`` and every router under it with aiogram's own methods again."""
    for router in root.chain_tail:
        router.__dict__.pop("_propagate_event", None)
        router.__dict__.pop("propagate_event", None)
        for observer in router.observers.values():
            observer.__dict__.pop("trigger", None)
    root.__dict__.pop("routing_index", None)

"""Run the routers' synchronous filters on the event loop instead of a worker thread (issue 13, item 4).

aiogram runs every callable that is not a coroutine function through ``asyncio.to_thread``. Our synchronous
filters are magic filters (``F.data == …``) and small pure functions over the update, so each evaluation
paid a thread hand-off (submit, wake a worker, wake the loop) for microseconds of work: the profile of the
cheapest path (``/menu``, a stale tap) showed ~14 such hand-offs per update, more than any SQL. The filters
neither block nor do I/O, so calling them inline gives the same answers without the hand-off. A filter that
must block belongs in an ``async`` filter that awaits its I/O, not in a thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject


def _inline(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    return run


def _filters(router: Router) -> Iterator[FilterObject]:
    for observer in router.observers.values():
        # Router-level filters (``router.message.filter(…)``) live on the observer's own handler.
        for handler in [observer._handler, *observer.handlers]:
            yield from handler.filters or []
    for sub in router.sub_routers:
        yield from _filters(sub)


def run_sync_filters_inline(router: Router) -> int:
    """Make every synchronous filter under ``router`` awaitable in place; returns how many were changed.

    ``params``/``varkw`` (which keyword arguments aiogram passes) were taken from the original callback and
    stay valid for the wrapper, which takes anything and forwards it.
    """
    changed = 0
    for f in _filters(router):
        if not f.awaitable:
            f.callback = _inline(f.callback)
            f.awaitable = True
            changed += 1
    return changed

"""Live updates for the console (queue, chat messages, broadcast progress).

In one process an in-memory fan-out is enough; with REDIS_URL set, events also travel over Redis
pub/sub so an agent on one API process sees what the bot process did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)
CHANNEL = "onestop:live"


class LiveHub:
    def __init__(self, redis_url: str | None = None) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis_url = redis_url or ""  # empty: this process only, no Redis
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._origin = uuid.uuid4().hex

    async def publish(self, topic: str, **data: Any) -> None:
        event = {"topic": topic, **data}
        self._fan_out(event)
        if self._redis_url:
            try:
                redis = await self._client()
                await redis.publish(CHANNEL, json.dumps({"origin": self._origin, **event}, default=str))
            except Exception:  # live updates are best effort; the pages also refresh on load
                log.warning("live: redis publish failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        if self._redis_url and self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def _fan_out(self, event: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(event)

    async def _client(self) -> Any:
        if self._redis is None:
            self._redis = Redis.from_url(self._redis_url)
        return self._redis

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = (await self._client()).pubsub()
                await pubsub.subscribe(CHANNEL)
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    event = json.loads(msg["data"])
                    if event.pop("origin", None) != self._origin:
                        self._fan_out(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live: redis listener failed; retrying", exc_info=True)
                await asyncio.sleep(2)

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
        if self._redis is not None:
            await self._redis.aclose()

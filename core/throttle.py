"""Login throttling that cannot be turned against staff (issue 12 F6).

Two fixed-window counters of failed logins:

* per (username, client address): locks that username *from that address only*, so an attacker elsewhere who
  hammers "admin" cannot lock the real admin out;
* per client address: stops one address from spraying passwords over many usernames.

The counters are keyed by the username as typed, whether or not it exists, so a lock reveals nothing. They
live in Redis when ``REDIS_URL`` is set (several processes share them), otherwise in this process's memory.
Checking them touches no database: the login route asks before any SQL runs.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class Limits:
    per_user_address: int = 5
    per_address: int = 50
    window: int = 15 * 60  # seconds


def _digest(text: str) -> str:
    # Keys never hold a typed username or an address in clear (Redis dumps, logs).
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Store(Protocol):
    async def get(self, key: str) -> int: ...
    async def incr(self, key: str, window: int) -> int: ...
    async def delete(self, key: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> tuple[int, float] | None:
        item = self._data.get(key)
        if item is not None and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    async def get(self, key: str) -> int:
        item = self._live(key)
        return item[0] if item else 0

    async def incr(self, key: str, window: int) -> int:
        if len(self._data) > 100_000:  # bounded: a spray of addresses cannot grow memory without end
            now = time.monotonic()
            self._data = {k: v for k, v in self._data.items() if v[1] > now}
        item = self._live(key)
        count, expires = item if item else (0, time.monotonic() + window)
        self._data[key] = (count + 1, expires)
        return count + 1

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class RedisStore:
    def __init__(self, url: str, prefix: str = "onestop:login:") -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix

    async def get(self, key: str) -> int:
        value = await self._redis.get(self._prefix + key)
        return int(value) if value else 0

    async def incr(self, key: str, window: int) -> int:
        k = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(k)
            pipe.expire(k, window, nx=True)  # the window starts at the first failure
            count, _ = await pipe.execute()
        return int(count)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


class LoginThrottle:
    def __init__(self, redis_url: str | None = None, limits: Limits | None = None, *, prefix: str = "onestop:login:"):
        self.limits = limits or Limits()
        self.store: _Store = RedisStore(redis_url, prefix) if redis_url else MemoryStore()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return "u:" + _digest(f"{username.strip().casefold()}\0{address}"), "a:" + _digest(address)

    async def blocked(self, username: str, address: str) -> bool:
        pair, addr = self._keys(username, address)
        return (await self.store.get(pair) >= self.limits.per_user_address
                or await self.store.get(addr) >= self.limits.per_address)

    async def failed(self, username: str, address: str) -> None:
        pair, addr = self._keys(username, address)
        await self.store.incr(pair, self.limits.window)
        await self.store.incr(addr, self.limits.window)

    async def succeeded(self, username: str, address: str) -> None:
        """A right password clears that username's count from that address (not the address's total)."""
        pair, _ = self._keys(username, address)
        await self.store.delete(pair)

    async def close(self) -> None:
        if isinstance(self.store, RedisStore):
            await self.store.close()

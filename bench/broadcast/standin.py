"""A stand-in Telegram Bot API on loopback that enforces Telegram's broadcast limits.

* at most ``global_rate`` accepted messages in any one-second window (Telegram: about 30 msg/s);
* at most one accepted message per chat per ``chat_interval`` seconds (Telegram: about 1 msg/s);
* anything over a limit gets ``429 Too Many Requests`` with ``parameters.retry_after`` (whole seconds,
  at least 1, as Telegram sends it) and is *not* delivered;
* ``failure_rate`` of the calls fail at random before delivery (half 500s, half dropped connections);
* chats in ``blocked`` get ``403 Forbidden: bot was blocked by the user``;
* with ``hold_after=K``, every message after the K-th is delivered but its answer is held back until
  ``release()`` — a sender killed meanwhile has these messages in flight (accepted, not yet marked): the
  exact SIGKILL duplicate window, made deterministic for tests.

Every delivered message is recorded per chat, so a test or a benchmark can count duplicates and misses.
Used in-process (``StandIn.start()``) by the tests and the benchmark, or alone:
``python -m bench.broadcast.standin --port 8081``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

WINDOW = 1.0


class StandIn:
    def __init__(self, *, global_rate: int = 30, chat_interval: float = 1.0, failure_rate: float = 0.0,
                 blocked: set[int] | None = None, latency: float = 0.0, seed: int | None = None,
                 hold_after: int | None = None) -> None:
        self.global_rate = global_rate
        self.chat_interval = chat_interval
        self.failure_rate = failure_rate
        self.blocked = blocked or set()
        self.latency = latency
        self.rng = random.Random(seed)
        self.accepted: deque[float] = deque()
        self.last_by_chat: dict[int, float] = {}
        self.delivered: Counter[int] = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.calls = 0
        self.too_many = 0
        self.failures = 0
        self.forbidden = 0
        self.max_in_window = 0
        self.hold_after = hold_after
        self.held = 0
        self._released = asyncio.Event()
        self._next_id = 1
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    # --- the HTTP side -------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        app.router.add_get("/bot{token}/{method}", self.handle)
        app.router.add_get("/stats", self.stats_handler)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._released.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def stats_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        method = request.match_info["method"].lower()
        params = await _params(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        if method == "getme":
            return _ok({"id": 1000000001, "is_bot": True, "first_name": "Onestop", "username": "onestop_bot"})
        if method not in ("sendmessage", "sendphoto", "senddocument", "sendlocation"):
            return _ok(True)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            self.failures += 1
            if self.rng.random() < 0.5:
                return web.json_response({"ok": False, "error_code": 500, "description": "Internal Server Error"},
                                         status=500)
            request.transport.close()  # type: ignore[union-attr]  # the connection drops before any answer
            return web.Response(status=500)
        chat_id = int(params.get("chat_id", 0))
        if chat_id in self.blocked:
            self.forbidden += 1
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"}, status=403)
        retry = self._over_limit(chat_id)
        if retry:
            self.too_many += 1
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {retry}",
                                      "parameters": {"retry_after": retry}}, status=429)
        result = self._deliver(chat_id, params)
        if self.hold_after is not None and self._next_id - 1 > self.hold_after:  # ids count deliveries
            self.held += 1
            await self._released.wait()
        return _ok(result)

    def release(self) -> None:
        """Answer the held requests (if anyone still listens) and hold nothing from now on."""
        self.hold_after = None
        self._released.set()

    # --- the limits ----------------------------------------------------------------------------------------

    def _over_limit(self, chat_id: int) -> int:
        now = time.monotonic()
        while self.accepted and now - self.accepted[0] >= WINDOW:
            self.accepted.popleft()
        if len(self.accepted) >= self.global_rate:
            return max(1, math.ceil(self.accepted[0] + WINDOW - now))
        last = self.last_by_chat.get(chat_id)
        if last is not None and now - last < self.chat_interval:
            return max(1, math.ceil(last + self.chat_interval - now))
        return 0

    def _deliver(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        self.accepted.append(now)
        self.max_in_window = max(self.max_in_window, len(self.accepted))
        self.last_by_chat[chat_id] = now
        self.delivered[chat_id] += 1
        self.first_at = self.first_at or now
        self.last_at = now
        msg_id = self._next_id
        self._next_id += 1
        return {"message_id": msg_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                "from": {"id": 1000000001, "is_bot": True, "first_name": "Onestop"},
                "text": str(params.get("text", ""))[:64]}

    # --- results -------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        span = (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0
        total = sum(self.delivered.values())
        return {
            "calls": self.calls, "delivered": total, "chats": len(self.delivered),
            "duplicates": sum(n - 1 for n in self.delivered.values() if n > 1),
            "too_many_requests": self.too_many, "failures": self.failures, "forbidden": self.forbidden,
            "span_seconds": round(span, 3), "rate": round((total - 1) / span, 3) if span > 0 else None,
            "max_in_one_second": self.max_in_window, "held": self.held,
        }


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


async def _params(request: web.Request) -> dict[str, Any]:
    values: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        ctype = request.content_type
        if ctype == "application/json":
            with contextlib.suppress(ValueError):
                values.update(await request.json())
        else:
            form = await request.post()
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
    return values


async def _serve(args: argparse.Namespace) -> None:
    standin = StandIn(global_rate=args.rate, chat_interval=args.chat_interval, failure_rate=args.failure_rate)
    url = await standin.start(port=args.port)
    print(json.dumps({"url": url}), flush=True)
    try:
        await asyncio.Event().wait()  # serve until interrupted
    finally:
        await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--chat-interval", type=float, default=1.0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()

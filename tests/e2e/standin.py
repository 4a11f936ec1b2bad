"""A stand-in Telegram Bot API server for delivery tests (issue 13) — deliberately *not* the project's sandbox.

It runs in a thread of the test process on a free port and plays Telegram's side of both delivery modes:

* **webhook**: after ``setWebhook`` it POSTs every pending update to the registered URL (or, to play a
  load balancer, to the given backends in turn) with the ``X-Telegram-Bot-Api-Secret-Token`` it was given,
  and, like Telegram, retries an update until some answer is 2xx;
* **polling**: ``getUpdates`` holds the request up to ``timeout`` seconds and forgets updates only when
  a later call's ``offset`` confirms them.

It records every ``sendMessage`` (refusing, as Telegram does, one without ``chat_id`` or text) and which
updates were acknowledged or confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456789:STANDIN-test-token"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Stand-in", "username": "standin_bot"}


class StandInTelegram:
    def __init__(self) -> None:
        self.pending: dict[int, dict[str, Any]] = {}  # update_id -> update, until acknowledged/confirmed
        self.acknowledged: list[int] = []
        self.sent: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.webhook: dict[str, Any] = {}
        self.allowed_updates: list[str] | None = None
        self.backends: list[str] | None = None  # play a load balancer in front of several processes
        self.forwarded: Counter[str] = Counter()  # backend -> 2xx deliveries
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._new: asyncio.Event | None = None
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.on_answer = None  # benchmarks: callback(chat_id, callback_query_id, buttons) on every answer
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    # --- test side (any thread) ------------------------------------------------------------------------
    def start(self) -> StandInTelegram:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push_text(self, user_id: int, text: str) -> int:
        update_id = next(self._ids)
        update = {"update_id": update_id, "message": {
            "message_id": 10_000 + update_id, "date": int(time.time()), "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": f"R{user_id}"},
            "from": {"id": user_id, "is_bot": False, "first_name": f"R{user_id}", "language_code": "zh-hans"},
            **({"entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}
               if text.startswith("/") else {})}}
        with self._lock:
            self.pending[update_id] = update
        self._loop.call_soon_threadsafe(self._wake)
        return update_id

    def replies_to(self, chat_id: int) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"stand-in Telegram: {what} not within {timeout} s")

    def stop(self) -> None:
        with contextlib.suppress(TimeoutError):  # a daemon thread: never let cleanup hold up the tests
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        self._closing = True  # release long polls still held open
        self._wake()
        for task in [self._deliverer, *self._tasks]:
            task.cancel()
        await asyncio.wait([self._deliverer, *self._tasks], timeout=2)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._runner.cleanup(), 2)

    # --- server side (its own loop) ---------------------------------------------------------------------
    def _wake(self) -> None:
        if self._new is not None:
            self._new.set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._new = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        runner = self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._deliverer = self._loop.create_task(self._deliver())
        self._ready.set()
        self._loop.run_forever()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.method == "POST":
            for key, value in (await request.post()).items():
                try:
                    params[key] = json.loads(value) if isinstance(value, str) else value
                except ValueError:
                    params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        with self._lock:
            self.calls[method] += 1
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "setWebhook":
            self.webhook = {"url": params.get("url", ""), "secret": params.get("secret_token")}
            self.allowed_updates = params.get("allowed_updates")
            self._wake()
            return self._ok(True)
        if method == "deleteWebhook":
            self.webhook = {}
            return self._ok(True)
        if method == "getMe":
            return self._ok(BOT_USER)
        if method in ("editMessageText", "answerCallbackQuery", "editMessageReplyMarkup"):
            self._note(method, params)
        if method == "sendMessage":
            text, chat_id = params.get("text"), params.get("chat_id")
            if not chat_id or not isinstance(text, str | int) or not str(text).strip():
                return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request"}, status=400)
            with self._lock:
                self.sent.append({"chat_id": int(chat_id), "text": str(text)})
            self._note(method, params)
            return self._ok({"message_id": next(self._message_ids), "date": int(time.time()), "text": str(text),
                             "chat": {"id": int(chat_id), "type": "private"}, "from": BOT_USER})
        return self._ok(True)

    def _note(self, method: str, params: dict[str, Any]) -> None:
        """For benchmarks: when each chat (or callback) last got an answer, and its latest inline buttons."""
        if self.on_answer is None:
            return
        chat = params.get("chat_id")
        markup = params.get("reply_markup")
        buttons = None
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            buttons = [b.get("callback_data") for row in markup["inline_keyboard"] for b in row
                       if b.get("callback_data")]
        self.on_answer(int(chat) if chat else None, str(params.get("callback_query_id") or ""), buttons)

    @staticmethod
    def _ok(result: object) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return web.json_response({"ok": False, "error_code": 409, "description": "Conflict: webhook is active"},
                                     status=409)
        offset = int(params.get("offset") or 0)
        with self._lock:
            for uid in [u for u in self.pending if u < offset]:
                del self.pending[uid]
                self.acknowledged.append(uid)  # confirmed: Telegram forgets it
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                batch = [self.pending[u] for u in sorted(self.pending)][:100]
            if batch or self._closing or time.monotonic() >= deadline:
                return self._ok(batch)
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), max(deadline - time.monotonic(), 0.01))

    async def _deliver(self) -> None:
        """Webhook delivery: every pending update POSTed until a 2xx, many at once like Telegram."""
        turn = itertools.count()
        async with aiohttp.ClientSession() as http:
            while not self._closing:  # (a cancel can be swallowed by wait_for on 3.11)
                hook = self.webhook
                if hook.get("url"):
                    with self._lock:
                        todo = [u for u in sorted(self.pending) if u not in self._in_flight]
                    for uid in todo:
                        self._in_flight.add(uid)
                        task = asyncio.create_task(self._post(http, uid, hook, next(turn)))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), 0.2)

    async def _post(self, http: aiohttp.ClientSession, uid: int, hook: dict[str, Any], turn: int) -> None:
        url, backend = hook["url"], "webhook"
        if self.backends:
            path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
            backend = self.backends[turn % len(self.backends)]
            url = backend + path
        try:
            with self._lock:
                update = self.pending.get(uid)
            if update is None:
                return
            headers = {"X-Telegram-Bot-Api-Secret-Token": hook.get("secret") or ""}
            async with http.post(url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                ok = 200 <= r.status < 300
            if ok:
                with self._lock:
                    if self.pending.pop(uid, None) is not None:
                        self.acknowledged.append(uid)
                    self.forwarded[backend] += 1
            else:
                await asyncio.sleep(0.3)
        except (aiohttp.ClientError, TimeoutError, OSError):
            await asyncio.sleep(0.3)  # the bot is down: Telegram keeps the update and tries again
        finally:
            self._in_flight.discard(uid)
            self._wake()

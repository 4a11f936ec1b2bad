"""The base of `SandboxState`: construction, reset, long-poll waiting and the bot's identity.

`reset()` creates every collection the other parts of the state work on (chats, updates, files, queries).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from api.sandbox.personas import DEFAULT_PERSONAS, Persona
from api.sandbox.records import ApiCall, ChatState, FileRecord, InjectedError, Notifier

BOT_USERNAME = "onestop_sandbox_bot"
BOT_FIRST_NAME = "Onestop"


class World:
    """Personas, chats, updates, files and bot settings, and the waiting on any change of them."""

    def __init__(
        self,
        personas: list[Persona] | None = None,
        *,
        pay_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        token: str | None = None,
    ) -> None:
        # F10: the emulated Bot API answers only this token (the in-process bot is built with it).
        self.token = token or f"1000000001:SANDBOX-{secrets.token_urlsafe(24)}"
        self.pay_timeout = pay_timeout
        self.clock = clock
        self._initial_personas = [
            dataclasses.replace(p) for p in (DEFAULT_PERSONAS if personas is None else personas)
        ]
        self._notifier = Notifier()
        self.closed = False
        # These only grow, even across reset(), so a page polling with an old cursor never stalls.
        self.revision = 0  # bumped on every change
        self.seq = 0  # last chat entry number
        self._next_update_id = 1  # a polling bot's offset must stay valid after reset()
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Forget every chat, update and file; keep the personas."""
        if not hasattr(self, "personas"):
            self.personas: dict[int, Persona] = {p.user_id: p for p in self._initial_personas}
        self.chats: dict[int, ChatState] = {uid: ChatState(persona=p) for uid, p in self.personas.items()}
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, FileRecord] = {}
        self._files_by_path: dict[str, FileRecord] = {}
        self.bot_id = 0
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_texts: dict[str, dict[str, str]] = {}  # name/description/short_description per language
        self.webhook: dict[str, Any] = {}
        self.allowed_updates: list[str] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.pre_checkout_queries: dict[str, dict[str, Any]] = {}
        self.calls: deque[ApiCall] = deque(maxlen=10_000)
        self._injected: list[InjectedError] = []
        self.notify()

    def close(self) -> None:
        """Release every long poll (call on app shutdown so the server can stop promptly)."""
        self.closed = True
        self.notify()

    @property
    def waiting(self) -> int:
        """How many long polls are waiting right now."""
        return len(self._notifier._waiters)

    def notify(self) -> None:
        self.revision += 1
        self._notifier.notify()

    async def wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until predicate() is true (re-checked after every change) or `seconds` pass; returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(seconds, 0)
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return predicate()
            await self._notifier.wait(remaining)
        return True

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ bot identity

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id or 1,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

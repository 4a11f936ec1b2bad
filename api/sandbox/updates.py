"""What the bot's side of the sandbox sees besides chats: the update queue, injected errors, the call log."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from api.sandbox.records import ApiCall, BotApiError, InjectedError
from api.sandbox.world import World

# Update types Telegram leaves out when allowed_updates is empty / never set.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class UpdateQueue(World):
    """Updates waiting for getUpdates (allowed_updates filter, offsets) and the Bot API fault injection."""

    # ------------------------------------------------------------------ updates

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        # A snapshot: later edits of the message must not change an update already queued.
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self.updates.append(update)
        self.notify()
        return update

    def confirm_updates(self, offset: int) -> None:
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def _update_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _OPT_IN_UPDATES

    def deliverable_updates(self, limit: int) -> list[dict[str, Any]]:
        # Telegram drops updates of types the bot did not ask for instead of keeping them.
        self.updates = [u for u in self.updates if self._update_allowed(u)]
        return self.updates[:limit]

    # ------------------------------------------------------------------ error injection + call log

    def inject_errors(
        self,
        count: int = 1,
        *,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `count` matching Bot API calls fail.

        Default: 429 "Too Many Requests: retry after N" with parameters.retry_after = N.
        `methods` limits it to those methods (case-insensitive); by default every method
        except getUpdates matches, so a polling bot does not swallow the errors meant for
        a sender. `chat_id` limits it to calls addressed to that chat.
        """
        parameters = None
        if error_code == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        else:
            defaults = {
                400: "Bad Request",
                403: "Forbidden: bot was blocked by the user",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }
            description = description or defaults.get(error_code, "Error")
        self._injected.append(
            InjectedError(
                remaining=count,
                error=BotApiError(error_code, description, parameters),
                methods=frozenset(m.lower() for m in methods) if methods is not None else None,
                chat_id=chat_id,
            )
        )

    def take_injected_error(self, method: str, chat_id: int | None) -> BotApiError | None:
        for injected in self._injected:
            if injected.remaining > 0 and injected.matches(method.lower(), chat_id):
                injected.remaining -= 1
                self._injected = [i for i in self._injected if i.remaining > 0]
                return injected.error
        return None

    def record_call(self, method: str, chat_id: int | None, status: int) -> None:
        self.calls.append(ApiCall(at=self.clock(), method=method, chat_id=chat_id, status=status))

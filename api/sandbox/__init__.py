"""Offline Telegram: a Bot API emulator plus a phone-like chat page, so the real bot runs with no network.

The app factory creates ``SandboxState()``, stores it at ``app.state.sandbox`` and includes ``router``;
the bot then uses ``TelegramAPIServer.from_base("http://HOST:PORT/sandbox")``. See ``routes`` for the
HTTP surface.
"""

from api.sandbox.personas import DEFAULT_PERSONAS, Persona
from api.sandbox.routes import router
from api.sandbox.state import BotApiError, SandboxError, SandboxState

__all__ = ["DEFAULT_PERSONAS", "BotApiError", "Persona", "SandboxError", "SandboxState", "router"]

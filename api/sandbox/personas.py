"""Simulated Telegram users ("personas") who talk to the bot in the sandbox."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Persona:
    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone: str = ""
    language_code: str = "zh-hans"

    def user_object(self) -> dict[str, Any]:
        """The Telegram User object for this persona."""
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        user["language_code"] = self.language_code
        return user

    def chat_object(self) -> dict[str, Any]:
        """The private Telegram Chat with this persona."""
        chat: dict[str, Any] = {"id": self.user_id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona(user_id=10001, first_name="王建国", phone="+8613800000001", language_code="zh-hans"),
    Persona(user_id=10002, first_name="Li Na", phone="+8613800000002", language_code="en"),
    Persona(user_id=10003, first_name="张奶奶", phone="+8613800000003", language_code="zh-hans"),
)

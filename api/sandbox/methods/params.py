"""Request parameters of a Bot API call: query string, JSON body or (multipart) form, and uploads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.sandbox.records import bad_request

_JSON_FIELDS = {
    "reply_markup": "reply keyboard markup",
    "reply_parameters": "reply parameters",
    "entities": "message entities",
    "caption_entities": "caption entities",
    "media": "media",
    "commands": "commands",
    "scope": "bot command scope",
    "menu_button": "menu button",
    "prices": "prices",
    "allowed_updates": "allowed updates",
    "suggested_tip_amounts": "suggested tip amounts",
    "message_ids": "message identifiers",
    "link_preview_options": "link preview options",
}


@dataclass
class Upload:
    filename: str
    content_type: str | None
    data: bytes


class Params:
    """Request parameters from a query string, JSON body or (multipart) form.

    Form values arrive as strings (aiogram JSON-encodes everything that is not a string),
    JSON bodies arrive typed; the getters below accept both.
    """

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def get_str(self, name: str, *, required: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def get_int(self, name: str, *, required: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str, *, required: str | None = None) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(required)
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def get_json(self, name: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {_JSON_FIELDS.get(name, name)} JSON object") from None
        return value

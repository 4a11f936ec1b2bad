"""Pick the resident's saved language; before they choose, follow their Telegram client."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18nMiddleware

from core.i18n import normalize_locale


class ResidentI18nMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        resident = data.get("resident")
        if resident is not None and resident.language:
            return resident.language
        user: User | None = data.get("event_from_user")
        return normalize_locale(user.language_code if user else None)

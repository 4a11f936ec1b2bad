"""Runtime settings, read from the environment (prefix ``ONESTOP_``) and ``.env``.

A few well-known variables keep their conventional names without the prefix:
``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_BASE``, ``DATABASE_URL``, ``REDIS_URL``.
Settings are built in ``main()`` / the app factory and passed down; never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class SenderSettings(BaseModel):
    """Outbox sender limits (Telegram: ~30 msg/s overall, 1 msg/s per chat)."""

    rate_per_second: float = 25.0
    per_chat_interval: float = 1.0
    batch_size: int = 50
    max_attempts: int = 8
    # Telegram's paid broadcasts allow up to 1000 msg/s for a fee per message.
    paid_broadcast: bool = False
    paid_rate_per_second: float = 1000.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONESTOP_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./onestop.db",
        validation_alias=AliasChoices("DATABASE_URL", "ONESTOP_DATABASE_URL"),
    )
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "ONESTOP_REDIS_URL"))
    telegram_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "ONESTOP_TELEGRAM_BOT_TOKEN")
    )
    telegram_api_base: str | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_API_BASE", "ONESTOP_TELEGRAM_API_BASE")
    )
    payment_provider_token: SecretStr = SecretStr("sandbox-provider-token")

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    # Signs session cookies and CSRF tokens and keys bill-code hashes. Required in production (a Telegram token
    # set); the demo generates one and keeps it beside the SQLite database (core.keys, issue 12 F4).
    secret_key: SecretStr | None = None
    session_max_age: int = 8 * 3600
    session_idle_timeout: int = 30 * 60
    login_max_failures: int = 5  # per (username, client address) in login_lock_seconds (core.throttle)
    login_address_max_failures: int = 50  # per client address, over all usernames
    login_lock_seconds: int = 15 * 60
    api_tokens: list[SecretStr] = []

    # Flood protection per resident: more than ``flood_burst`` updates in ``flood_window`` seconds are dropped
    # (with one polite notice); a person tapping quickly stays far below it.
    flood_burst: int = 20
    flood_window: float = 10.0

    default_locale: str = "zh_Hans"
    timezone: str = "Asia/Shanghai"
    calendar_file: Path = ROOT / "core" / "data" / "holidays.yaml"
    knowledge_dir: Path = ROOT / "knowledge"
    locales_dir: Path = ROOT / "bot" / "locales"

    throttle_rate: float = 0.3  # seconds between two updates of one resident that we still process
    sender: SenderSettings = SenderSettings()

    @property
    def sandbox(self) -> bool:
        """No token: run against the built-in offline Telegram sandbox."""
        return self.telegram_bot_token is None

    @property
    def bot_token(self) -> str:
        if self.telegram_bot_token is not None:
            return self.telegram_bot_token.get_secret_value()
        return "1000000001:SANDBOX-onestop-demo-token"

    def api_base(self) -> str | None:
        if self.telegram_api_base:
            return self.telegram_api_base.rstrip("/")
        if self.sandbox:
            return f"http://{self.host}:{self.port}/sandbox"
        return None

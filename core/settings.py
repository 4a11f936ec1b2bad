"""Runtime settings, read from the environment (prefix ``ONESTOP_``) and ``.env``.

A few well-known variables keep their conventional names without the prefix:
``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_BASE``, ``DATABASE_URL``, ``REDIS_URL``.
Settings are built in ``main()`` / the app factory and passed down; never at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, PrivateAttr, SecretStr
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


class InboxSettings(BaseModel):
    """The durable inbox of Telegram updates (issue 13): claims, retries, parking, retention."""

    lease_seconds: float = 30.0  # a claim not renewed for this long is taken over (the worker died)
    concurrency: int = 32  # updates handled at once by one process (different chats; one chat is serial)
    max_attempts: int = 4  # then the update is parked for staff and the resident is told it arrived
    retry_base_seconds: float = 2.0  # backoff: base, 2×base, 4×base …
    retention_hours: float = 72.0  # handled updates are pruned after this
    grace_seconds: float = 10.0  # SIGTERM: time to finish the updates in hand
    max_body_bytes: int = 1_000_000  # a webhook POST larger than this is refused (Telegram's are far smaller)
    poll_interval: float = 0.5  # how often a worker looks for rows stored by other processes
    resident_cache: int = 50_000  # residents kept per process between updates (0: read every update)


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
    # Webhook mode (issue 13): both set -> setWebhook at start and receive on the URL's path; else long polling.
    telegram_webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_URL", "ONESTOP_TELEGRAM_WEBHOOK_URL")
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "ONESTOP_TELEGRAM_WEBHOOK_SECRET")
    )
    payment_provider_token: SecretStr = SecretStr("sandbox-provider-token")

    host: str = "127.0.0.1"
    # ONESTOP_SANDBOX=1 serves the offline sandbox on a non-loopback address too (F7: see serve_sandbox).
    sandbox_opt_in: bool = Field(False, validation_alias=AliasChoices("ONESTOP_SANDBOX", "sandbox_opt_in"))
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

    calendar_file: Path = ROOT / "core" / "data" / "holidays.yaml"
    knowledge_dir: Path = ROOT / "knowledge"
    locales_dir: Path = ROOT / "bot" / "locales"

    # Request bodies are refused with 413 above these sizes, before any authentication or parsing (F8).
    max_body_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024

    sender: SenderSettings = SenderSettings()
    inbox: InboxSettings = InboxSettings()
    _sandbox_secret: str = PrivateAttr(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def sandbox(self) -> bool:
        """No token: run against the built-in offline Telegram sandbox."""
        return self.telegram_bot_token is None

    def serve_sandbox(self) -> bool:
        """Issue 12 F7: the sandbox (page, resident API, emulated Bot API) is served only without a Telegram
        token, and only on a loopback address unless ONESTOP_SANDBOX=1 says the exposure is deliberate."""
        return self.sandbox and (self.sandbox_opt_in or _is_loopback(self.host))

    @property
    def bot_token(self) -> str:
        if self.telegram_bot_token is not None:
            return self.telegram_bot_token.get_secret_value()
        # F10: the sandbox's Bot API accepts only this token. It is secret: derived from the secret key when
        # there is one (so every process of one installation agrees), else random for this run.
        secret = self._sandbox_secret
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value().encode()
            secret = hmac.new(key, b"onestop.sandbox-bot-token", hashlib.sha256).hexdigest()[:32]
        return f"1000000001:SANDBOX-{secret}"

    @property
    def webhook(self) -> bool:
        """Webhook mode needs both the public URL and the secret Telegram echoes back in every request."""
        return bool(self.telegram_webhook_url and self.telegram_webhook_secret)

    def webhook_path(self) -> str | None:
        url = self.telegram_webhook_url
        return urlsplit(url).path or "/" if url and self.webhook else None

    def api_base(self) -> str | None:
        if self.telegram_api_base:
            return self.telegram_api_base.rstrip("/")
        if self.sandbox:
            return f"http://{self.host}:{self.port}/sandbox"
        return None


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere

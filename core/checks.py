"""``onestop check-config``: is this a production configuration? (issue 13, item 6)

Each finding is a plain sentence an operator can act on. ``problem`` findings make the command exit
non-zero; ``warning`` findings are printed but acceptable (e.g. a single process without Redis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis
from sqlalchemy import text

from core.settings import Settings
from db.session import make_engine

PROBLEM, WARNING, OK = "problem", "warning", "ok"
# Paths the console and API serve themselves: a webhook there would be shadowed or would shadow them.
RESERVED_PREFIXES = ("/api", "/static", "/console", "/sandbox", "/login", "/logout", "/healthz", "/media")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token
MIN_SECRET_KEY = 32


@dataclass(frozen=True)
class Finding:
    level: str
    message: str


def _https_url(value: str | None) -> tuple[bool, str]:
    parts = urlsplit(value or "")
    return parts.scheme == "https" and bool(parts.hostname), parts.path


def check_static(settings: Settings) -> list[Finding]:
    """Everything that can be judged without connecting anywhere."""
    out: list[Finding] = []
    if settings.telegram_bot_token is None:
        out.append(Finding(PROBLEM, "TELEGRAM_BOT_TOKEN is not set: the bot would run against the built-in "
                                    "offline sandbox, not Telegram."))
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not key:
        out.append(Finding(PROBLEM, "ONESTOP_SECRET_KEY is not set: staff sessions would not survive a restart "
                                    "and would not work across several processes."))
    elif len(key) < MIN_SECRET_KEY:
        out.append(Finding(PROBLEM, f"ONESTOP_SECRET_KEY is too short ({len(key)} characters); use at least "
                                    f"{MIN_SECRET_KEY} random characters."))
    if settings.database_url.startswith("sqlite"):
        out.append(Finding(PROBLEM, "DATABASE_URL points to SQLite: use PostgreSQL in production (several "
                                    "processes, SKIP LOCKED claims, the scheduler's advisory lock)."))
    if not settings.redis_url:
        out.append(Finding(WARNING, "REDIS_URL is not set: fine for one process, but several processes need it "
                                    "to share form state and per-chat locking."))
    public_ok, _ = _https_url(settings.public_url)
    if not settings.public_url:
        out.append(Finding(PROBLEM, "ONESTOP_PUBLIC_URL is not set: links in messages and files sent to "
                                    "Telegram need the public https address of the console."))
    elif not public_ok:
        out.append(Finding(PROBLEM, f"ONESTOP_PUBLIC_URL must be an https:// address with a host name "
                                    f"(got {settings.public_url!r})."))
    out.extend(_check_webhook(settings))
    if settings.telegram_api_base:
        scheme = urlsplit(settings.telegram_api_base).scheme
        if scheme not in ("http", "https"):
            out.append(Finding(PROBLEM, "TELEGRAM_API_BASE must be an http(s):// address of a Bot API server."))
    return out


def _check_webhook(settings: Settings) -> list[Finding]:
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if not url and not secret:
        return [Finding(OK, "No TELEGRAM_WEBHOOK_URL/SECRET: the bot uses long polling.")]
    if not url or not secret:
        missing = "TELEGRAM_WEBHOOK_SECRET" if url else "TELEGRAM_WEBHOOK_URL"
        return [Finding(PROBLEM, f"{missing} is not set: webhook mode needs both variables (the bot would fall "
                                 "back to long polling).")]
    out: list[Finding] = []
    ok, path = _https_url(url)
    if not ok:
        out.append(Finding(PROBLEM, f"TELEGRAM_WEBHOOK_URL must be an https:// address with a host name; "
                                    f"Telegram refuses anything else (got {url!r})."))
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        out.append(Finding(PROBLEM, "TELEGRAM_WEBHOOK_URL must not have a query string or fragment."))
    if parts.port not in (None, 443, 80, 88, 8443):
        out.append(Finding(PROBLEM, f"TELEGRAM_WEBHOOK_URL uses port {parts.port}; Telegram only delivers to "
                                    "ports 443, 80, 88 and 8443."))
    if path in ("", "/"):
        out.append(Finding(PROBLEM, "TELEGRAM_WEBHOOK_URL needs a path of its own (e.g. /telegram/<random>), "
                                    "not the site root where the console lives."))
    elif path.startswith(RESERVED_PREFIXES):
        out.append(Finding(PROBLEM, f"TELEGRAM_WEBHOOK_URL path {path!r} collides with the console's own "
                                    "pages; choose a path such as /telegram/<random>."))
    if not SECRET_RE.match(secret.get_secret_value()):
        out.append(Finding(PROBLEM, "TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 "
                                    "characters); Telegram refuses others."))
    elif len(secret.get_secret_value()) < 16:
        out.append(Finding(PROBLEM, "TELEGRAM_WEBHOOK_SECRET is too short to be unguessable; use at least 16 "
                                    "random characters."))
    public = urlsplit(settings.public_url or "")
    if ok and public.hostname and parts.hostname != public.hostname:
        out.append(Finding(WARNING, f"The webhook host ({parts.hostname}) differs from ONESTOP_PUBLIC_URL's "
                                    f"({public.hostname}); make sure the reverse proxy routes it here."))
    if not out:
        out.append(Finding(OK, f"Webhook mode: Telegram will POST to {parts.hostname}{path}."))
    return out


async def check_servers(settings: Settings) -> list[Finding]:
    """Connect to the database and Redis as the processes would."""
    out: list[Finding] = []
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        out.append(Finding(OK, "The database is reachable."))
    except Exception as e:
        out.append(Finding(PROBLEM, f"The database in DATABASE_URL is not reachable ({type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:160] if str(e) else 'no detail'})."))
    finally:
        await engine.dispose()
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
        try:
            await redis.ping()
            out.append(Finding(OK, "Redis is reachable."))
        except Exception as e:
            out.append(Finding(PROBLEM, f"Redis in REDIS_URL is not reachable ({type(e).__name__})."))
        finally:
            await redis.aclose()
    return out


async def check_config(settings: Settings) -> list[Finding]:
    return check_static(settings) + await check_servers(settings)

"""The secret key (issue 12 F4), keyed bill-code hashes (F9) and one-time credentials kept out of logs (F9).

Production (a Telegram token is set) must be given ``ONESTOP_SECRET_KEY``: a generated key would differ between
processes and restarts, silently logging everybody out and breaking every stored bill-code hash. The demo
generates one key once and keeps it in a 0600 file beside the SQLite database, so logins survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from core.settings import Settings

KEY_FILE_SUFFIX = ".secret-key"
FALLBACK_DIR_FILE = ".onestop.secret-key"


class SecretKeyMissing(RuntimeError):
    """Start-up refused: production without ONESTOP_SECRET_KEY."""


MISSING_MESSAGE = ("ONESTOP_SECRET_KEY is not set: it is required when TELEGRAM_BOT_TOKEN is set (production). "
                   "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")


def _sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    db = url.database or ""
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def key_file(settings: Settings) -> Path | None:
    """Where the demo keeps its generated key: beside the SQLite file (None for an in-memory database)."""
    db = _sqlite_file(settings.database_url)
    if db is not None:
        return db.with_name(db.name + KEY_FILE_SUFFIX)
    if make_url(settings.database_url).drivername.startswith("sqlite"):
        return None
    return Path.cwd() / FALLBACK_DIR_FILE


def write_private(path: Path, text: str) -> None:
    """Create (or replace) a file readable by its owner only; the mode is set before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def resolve_secret_key(settings: Settings) -> str:
    """The configured key; in demo mode the key kept on disk (generated the first time)."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if not settings.sandbox:
        raise SecretKeyMissing(MISSING_MESSAGE)
    path = key_file(settings)
    if path is None:
        return secrets.token_urlsafe(48)  # in-memory database: nothing outlives the process anyway
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    key = secrets.token_urlsafe(48)
    write_private(path, key + "\n")
    return key


# The bill-code key is process-wide like the database URL: bill codes are hashed deep inside the billing
# import and the linking flows, which must not each grow a key parameter. install_secret_key() runs when the
# AppContext is built, before any of them.
_bill_key: bytes | None = None


def install_secret_key(settings: Settings) -> str:
    """Resolve the key, store it in ``settings`` and arm the bill-code hash. Raises SecretKeyMissing."""
    global _bill_key
    key = resolve_secret_key(settings)
    settings.secret_key = SecretStr(key)
    _bill_key = bill_code_key(key)
    return key


def bill_code_key(secret_key: str) -> bytes:
    # A derived key: the session signer and the bill-code hash never share key material.
    return hmac.new(secret_key.encode(), b"onestop.bill-code.v1", hashlib.sha256).digest()


def bill_code_hmac(key: bytes, code: str) -> str:
    return hmac.new(key, f"bill-code:{code}".encode(), hashlib.sha256).hexdigest()


def hash_bill_code(code: str) -> str:
    """HMAC-SHA256 of a bill code keyed by the secret key (F9): a 6-digit space cannot be tabled without it."""
    if _bill_key is None:
        raise RuntimeError("the secret key is not installed (build the AppContext first)")
    return bill_code_hmac(_bill_key, code)


def legacy_bill_code_hash(code: str) -> str:
    """The unsalted SHA-256 of revision 0001, kept for the migration that converts it."""
    return hashlib.sha256(f"bill-code:{code}".encode()).hexdigest()


def credentials_file(settings: Settings) -> Path:
    db = _sqlite_file(settings.database_url)
    base = db.parent if db is not None else Path.cwd()
    return (base / "onestop-credentials.txt").resolve()


def reveal(lines: list[str], settings: Settings, *, stream: TextIO | None = None) -> str:
    """Show new passwords to the person at the terminal, never to a log (F9).

    On a TTY the lines are printed once. Otherwise (a service manager, a log collector) they are appended to a
    0600 file and only its path is printed. Returns what was printed."""
    stream = stream or sys.stdout
    if stream.isatty():
        text = "\n".join(lines)
    else:
        path = credentials_file(settings)
        old = path.read_text() if path.exists() else ""
        write_private(path, old + "\n".join(lines) + "\n")
        text = f"New credentials were written to {path} (readable by you only); read them and delete the file."
    print(text, file=stream, flush=True)
    return text

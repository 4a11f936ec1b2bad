"""Signed session cookies, CSRF tokens and login throttling for the staff console.

The session cookie holds only a staff id, a random nonce and two timestamps, signed with the secret
key. Sessions expire after ``session_max_age`` in total and after ``session_idle_timeout`` without a
request. The CSRF token is an HMAC of the session nonce, so it changes with every login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "onestop_session"


@dataclass
class SessionData:
    nonce: str
    staff_id: int | None = None
    issued: float = 0.0
    seen: float = 0.0


class SessionCodec:
    def __init__(self, secret: str, *, max_age: int, idle_timeout: int) -> None:
        self._serializer = URLSafeSerializer(secret, salt="onestop.session")
        self._secret = secret.encode()
        self.max_age = max_age
        self.idle_timeout = idle_timeout

    def new(self, staff_id: int | None = None) -> SessionData:
        now = time.time()
        return SessionData(nonce=secrets.token_urlsafe(16), staff_id=staff_id, issued=now, seen=now)

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps([data.nonce, data.staff_id, int(data.issued), int(data.seen)])

    def loads(self, raw: str | None) -> SessionData | None:
        if not raw:
            return None
        try:
            nonce, staff_id, issued, seen = self._serializer.loads(raw)
        except (BadSignature, ValueError, TypeError):
            return None
        now = time.time()
        if staff_id is not None and (now - issued > self.max_age or now - seen > self.idle_timeout):
            return SessionData(nonce=nonce)  # expired: keep the nonce, drop the login
        return SessionData(nonce=nonce, staff_id=staff_id, issued=issued, seen=seen)

    def csrf_token(self, data: SessionData) -> str:
        return hmac.new(self._secret, f"csrf:{data.nonce}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, data: SessionData, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(data), token)


class LoginThrottle:
    """Per-client-address limit on login attempts (the per-account lock lives in core.staff)."""

    def __init__(self, attempts: int = 10, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        hits = self._hits[key]
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.attempts:
            return False
        hits.append(now)
        return True

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

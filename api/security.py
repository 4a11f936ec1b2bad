"""Signed session cookies and CSRF tokens for the staff console (login throttling: core.throttle).

The session cookie holds only a staff id, a random nonce and two timestamps, signed with the secret
key. Sessions expire after ``session_max_age`` in total and after ``session_idle_timeout`` without a
request. The CSRF token is an HMAC of the session nonce, so it changes with every login.

Revocation (issue 12 F5) uses a per-staff *session generation* rather than a sessions table: the cookie
carries the generation it was issued under and api.deps compares it with ``staff_user.session_gen`` on every
request. That row is loaded on every request anyway, so revocation costs no extra query or write per request;
deactivating a person, resetting or changing a password bumps the number and every older cookie is refused.
The price is that one person's sessions end together, which is what every revocation here wants.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "onestop_session"


@dataclass
class SessionData:
    nonce: str
    staff_id: int | None = None
    issued: float = 0.0
    seen: float = 0.0
    gen: int = 0  # the staff member's session_gen when this login was issued


class SessionCodec:
    def __init__(self, secret: str, *, max_age: int, idle_timeout: int) -> None:
        self._serializer = URLSafeSerializer(secret, salt="onestop.session")
        self._secret = secret.encode()
        self.max_age = max_age
        self.idle_timeout = idle_timeout

    def new(self, staff_id: int | None = None, gen: int = 0) -> SessionData:
        now = time.time()
        return SessionData(nonce=secrets.token_urlsafe(16), staff_id=staff_id, issued=now, seen=now, gen=gen)

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps([data.nonce, data.staff_id, int(data.issued), int(data.seen), data.gen])

    def loads(self, raw: str | None) -> SessionData | None:
        if not raw:
            return None
        try:
            nonce, staff_id, issued, seen, gen = self._serializer.loads(raw)
        except (BadSignature, ValueError, TypeError):
            return None  # also a cookie from before generations existed: log in again
        now = time.time()
        if staff_id is not None and (now - issued > self.max_age or now - seen > self.idle_timeout):
            return SessionData(nonce=nonce)  # expired: keep the nonce, drop the login
        return SessionData(nonce=nonce, staff_id=staff_id, issued=issued, seen=seen, gen=int(gen))

    def csrf_token(self, data: SessionData) -> str:
        return hmac.new(self._secret, f"csrf:{data.nonce}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, data: SessionData, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(self.csrf_token(data), token)

"""Request body limits applied before authentication, CSRF checks and any parsing (issue 12 F8).

A pure ASGI middleware, outermost in the app: a declared ``Content-Length`` above the limit is answered 413
without reading a byte or calling the app; a chunked body is counted as it arrives and the request is
answered 413 the moment it grows past the limit, whatever the app was doing with it (FastAPI turns errors
while parsing into 400, so the answer is replaced rather than trusting the exception to surface).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.templating import N_, accept_language, translations


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class NulInText(Exception):
    """Raised from ``receive`` when a form or JSON body carries a NUL character."""


# A NUL character is never part of a text anyone means to send, and PostgreSQL refuses it in text columns
# (the fuzz test found a 500 there): forms and JSON carrying one are refused before any work. Multipart
# bodies are binary files and are not scanned.
NUL_MARKERS = {"application/x-www-form-urlencoded": (b"%00",), "application/json": (b"\\u0000",)}


TOO_LARGE = N_("The request is too large: the limit is %(mb)s MB. Please send a smaller file or less text.")
HAS_NUL = N_("The text contains a NUL character, which cannot be saved. Please remove it and send again.")


def _too_large(limit: int) -> tuple[str, dict[str, str]]:
    return TOO_LARGE, {"mb": f"{limit / (1024 * 1024):g}"}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, scope: Scope) -> int:
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        # Uploads: multipart forms, and the sandbox, whose resident API carries photos as base64 JSON.
        if content_type.startswith("multipart/form-data") or scope.get("path", "").startswith("/sandbox/"):
            return self.max_upload
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1").lower()
        markers = NUL_MARKERS.get(content_type.split(";")[0].strip(), ())
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                await _refuse(scope, send, 413, _too_large(limit))
                return

        received = 0
        exceeded = False
        nul = False
        started = False
        tail = b""  # the end of the previous chunk, so a marker split across two chunks is still seen

        async def limited_receive() -> Message:
            nonlocal received, exceeded, nul, tail
            if exceeded:
                raise BodyTooLarge
            if nul:
                raise NulInText
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
                if markers:
                    window = (tail + chunk).lower()
                    if any(m in window for m in markers) or b"\x00" in chunk:
                        nul = True
                        raise NulInText
                    tail = window[-8:]
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded or nul:
                return  # whatever the app answers to a cut-off body, the client gets the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except (BodyTooLarge, NulInText):
            pass
        except Exception:
            if not (exceeded or nul):
                raise
        if exceeded and not started:
            await _refuse(scope, send, 413, _too_large(limit))
        elif nul and not started:
            await _refuse(scope, send, 422, (HAS_NUL, {}))


async def _refuse(scope: Scope, send: Send, status: int, message: tuple[str, dict[str, str]]) -> None:
    msgid, values = message
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"detail": msgid % values}).encode()  # integration clients: English
        content_type = b"application/json"
    else:
        # Outermost, before the session: the console speaks the browser's language here.
        header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
        body = (translations(accept_language(header)).gettext(msgid) % values).encode()
        content_type = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})

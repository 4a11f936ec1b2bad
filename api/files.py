"""The one way to send stored bytes (residents' files, staff uploads, notices) back to a browser.

Issue 12 F1/F10: a file someone uploaded must never run as a page of the console's origin. Every response
built here is an attachment (``Content-Disposition`` with an RFC 6266 ``filename*``), carries
``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy: sandbox``, and has the type
``application/octet-stream`` unless the bytes themselves prove another one. Only a verified raster image
(PNG, JPEG, GIF, WebP — never SVG) may be shown inline, for the console's previews.
"""

from __future__ import annotations

import io
import re
import unicodedata
from urllib.parse import quote

from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError

RASTER_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
FILE_CSP = "sandbox; default-src 'none'"
_MAX_NAME = 120
_UNSAFE_NAME = re.compile(r'["\\/;:*?<>|`\']')


def safe_filename(name: str | None, fallback: str = "file") -> str:
    """An untrusted file name made harmless: no path parts, control characters or quotes, at most 120 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, format chars (RLO)
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    return name[:_MAX_NAME] or fallback


def raster_type(data: bytes) -> str | None:
    """The image type the bytes really are (decoded by Pillow, not guessed from a name), or None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
            return RASTER_TYPES.get(img.format or "")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def verified_type(data: bytes) -> str:
    """A content type proven by the bytes: a raster image, a PDF, an Ogg voice note; else octet-stream."""
    if image := raster_type(data):
        return image
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    return "application/octet-stream"


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact name in ``filename*``."""
    ascii_name = safe_filename(filename.encode("ascii", "replace").decode("ascii").replace("?", "_"))
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(data: bytes, *, filename: str | None, inline_image: bool = False,
                  cache: str = "private, no-store") -> Response:
    """Send stored bytes safely. ``inline_image``: show a verified raster image in the page (a preview)."""
    media_type = verified_type(data)
    name = safe_filename(filename)
    kind = "inline" if inline_image and media_type in RASTER_TYPES.values() else "attachment"
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": content_disposition(kind, name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cache-Control": cache,
    })

"""Small helpers for files in the sandbox: content types, image sizes, fake voice notes."""

from __future__ import annotations

import io
import mimetypes
import struct
import zlib

from PIL import Image

_EXT_FOR_MIME = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/ogg": ".oga",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
}


def sniff_mime(data: bytes, filename: str | None = None, declared: str | None = None) -> str:
    """Best guess of a content type: magic bytes first, then the file name, then what the client said."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    if filename:
        guessed, _ = mimetypes.guess_type(filename)
        if guessed:
            return guessed
    if declared and declared != "application/octet-stream":
        return declared
    return "application/octet-stream"


def extension_for(mime: str, filename: str | None = None) -> str:
    if filename and "." in filename:
        return "." + filename.rsplit(".", 1)[1].lower()
    return _EXT_FOR_MIME.get(mime) or mimetypes.guess_extension(mime) or ".bin"


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image, or None when the bytes are not an image Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (74, 144, 226)) -> bytes:
    """A valid solid-colour PNG built without Pillow (used for test photos)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def fake_voice(duration: int) -> bytes:
    """An OGG-looking blob for a voice note; the bot only stores/forwards it, nobody decodes it."""
    header = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    return header + b"\x00" * (160 * max(duration, 1))

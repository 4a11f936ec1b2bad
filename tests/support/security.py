"""Hostile documents and real images for the upload and download tests."""

from __future__ import annotations

import io

from PIL import Image

HTML_DOC = b"<!doctype html><html><body><script>alert(document.cookie)</script>pwned</body></html>"
SVG_DOC = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
           b'<rect width="10" height="10"/></svg>')


def image_bytes(fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buf, fmt)
    return buf.getvalue()

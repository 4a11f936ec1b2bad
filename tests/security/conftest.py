"""Security fixtures: the console fixtures (app, logged-in clients, residents in the queue) and real images."""

from __future__ import annotations

import io

from PIL import Image

from tests.api.conftest import app, client, staff_users  # noqa: F401  (fixtures)
from tests.console.conftest import agent2, make_client  # noqa: F401  (fixtures)
from tests.console.test_handoff_console import _claimed, _outbox  # noqa: F401  (helpers)

HTML_DOC = b"<!doctype html><html><body><script>alert(document.cookie)</script>pwned</body></html>"
SVG_DOC = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
           b'<rect width="10" height="10"/></svg>')


def image_bytes(fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buf, fmt)
    return buf.getvalue()

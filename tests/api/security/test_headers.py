"""Issue 12 F3: security headers on every console/API response, and templates a strict CSP can allow."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.headers import CSP
from tests.support.console import login

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = sorted([*(ROOT / "api" / "templates").rglob("*.html"), ROOT / "api" / "sandbox" / "page.html"])


def _assert_headers(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert csp == CSP
    for directive in ("default-src 'self'", "script-src 'self';", "object-src 'none'", "base-uri 'none'",
                      "frame-ancestors 'none'", "form-action 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


async def test_every_kind_of_response_carries_the_headers(staff_client: httpx.AsyncClient, staff_users) -> None:
    for path in ("/login", "/healthz", "/console/queue", "/api/v1/tickets", "/static/app.css", "/nope",
                 "/sandbox"):
        r = await staff_client.get(path)
        _assert_headers(r)
        assert "strict-transport-security" not in r.headers  # plain http: HSTS would be ignored anyway
    await login(staff_client, "agent")
    _assert_headers(await staff_client.get("/console/queue"))
    _assert_headers(await staff_client.post("/console/guard/check", data={"text": "x"}))  # 403: no CSRF


async def test_hsts_when_served_over_https(ctx, staff_users) -> None:
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://onestop.test") as c:
        assert (await c.get("/login")).headers["strict-transport-security"].startswith("max-age=")
    ctx.settings.public_url = "https://onestop.example.cn"  # behind a TLS proxy that speaks http to us
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        assert "max-age=31536000" in (await c.get("/login")).headers["strict-transport-security"]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_style_or_handlers(template: Path) -> None:
    text = template.read_text("utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>: move it to api/static"
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), "inline event handler: use addEventListener"
    assert not re.search(r"\sstyle\s*=", text, re.I), "style attribute: use a class in a stylesheet"
    assert "<style" not in text and "javascript:" not in text.lower()

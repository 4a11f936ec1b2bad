"""Issue 12 F1 + F10: stored files never run in the console's origin.

Every route serving stored bytes goes through api.files.file_response: attachment with an RFC 6266 name,
nosniff, ``Content-Security-Policy: sandbox``, octet-stream unless the bytes prove a type; only a verified
raster image previews inline. Staff uploads keep the verified type, not the browser's claim.
"""

from __future__ import annotations

import io
import types
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.files import content_disposition, file_response, safe_filename, verified_type
from core import handoff
from db.models import Conversation, ConversationMessage
from tests.api.console.test_handoff import _claimed, _outbox
from tests.support.console import token_of
from tests.support.security import HTML_DOC, SVG_DOC, image_bytes


def _assert_attachment(r, *, media_type: str = "application/octet-stream") -> None:
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == media_type
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("sandbox")


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\evil.html", "evil.html"),
    ('a"b;c\r\nSet-Cookie: x=1.html', "a_b_cSet-Cookie_ x=1.html"),
    ("bill\u202egpj.exe", "billgpj.exe"),  # right-to-left override: would show as "billexe.jpg"
    ("", "file"),
    ("...", "file"),
    ("电费单.pdf", "电费单.pdf"),
])
def test_untrusted_file_names_are_made_harmless(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_disposition_carries_the_exact_name_in_rfc6266_form() -> None:
    header = content_disposition("attachment", safe_filename('../x"y\n电费.html'))
    assert header == "attachment; filename=\"x_y__.html\"; filename*=UTF-8''x_y%E7%94%B5%E8%B4%B9.html"


def test_only_bytes_decide_the_type() -> None:
    assert verified_type(image_bytes("PNG")) == "image/png"
    assert verified_type(image_bytes("JPEG")) == "image/jpeg"
    assert verified_type(image_bytes("GIF")) == "image/gif"
    assert verified_type(image_bytes("WEBP")) == "image/webp"
    assert verified_type(SVG_DOC) == "application/octet-stream"  # SVG is never an image here
    assert verified_type(HTML_DOC) == "application/octet-stream"
    assert verified_type(b"\x89PNG\r\n\x1a\n<script>alert(1)</script>") == "application/octet-stream"


def test_inline_only_for_verified_raster_images() -> None:
    assert file_response(image_bytes(), filename="a.png", inline_image=True).headers["content-disposition"] \
        .startswith("inline;")
    for data in (HTML_DOC, SVG_DOC):
        r = file_response(data, filename="a.png", inline_image=True)
        assert r.headers["content-disposition"].startswith("attachment;") and r.media_type == \
            "application/octet-stream"


class FakeBot:
    """Telegram's getFile/download for a resident's stored files."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    async def get_file(self, file_id):
        return types.SimpleNamespace(file_path=f"documents/{file_id}")

    async def download_file(self, path):
        return io.BytesIO(self.files[path.rsplit("/", 1)[1]])


async def test_resident_html_and_svg_are_downloads_never_pages(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    async with ctx.sessionmaker() as s:
        c = await s.get(Conversation, conv.id)
        doc = await handoff.relay_from_resident(s, ctx=ctx, conversation=c, content_type="document",
                                                file_id="doc-html", file_name='../invoice".html')
        svg = await handoff.relay_from_resident(s, ctx=ctx, conversation=c, content_type="photo", file_id="ph-svg")
        png = await handoff.relay_from_resident(s, ctx=ctx, conversation=c, content_type="photo", file_id="ph-png")
    photo = image_bytes("PNG")
    ctx.extras["bot"] = FakeBot({"doc-html": HTML_DOC, "ph-svg": SVG_DOC, "ph-png": photo})

    r = await agent.get(f"/console/conversations/{conv.id}/files/{doc.id}")
    _assert_attachment(r)
    assert r.content == HTML_DOC and "filename*=UTF-8''invoice_.html" in r.headers["content-disposition"]
    _assert_attachment(await agent.get(f"/console/conversations/{conv.id}/files/{svg.id}"))
    r = await agent.get(f"/console/conversations/{conv.id}/files/{png.id}")
    assert r.headers["content-type"] == "image/png" and r.headers["content-disposition"].startswith("inline;")
    assert r.headers["content-security-policy"].startswith("sandbox") and r.content == photo


async def test_staff_upload_keeps_the_verified_type_not_the_browsers(ctx, make_client, staff_users,
                                                                     staff_client) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    r = await agent.post(f"/console/conversations/{conv.id}/file",
                         data={"csrf_token": await token_of(agent)},
                         files={"upload": ("../../x.html", HTML_DOC, "image/png")})  # the browser lies
    assert r.status_code == 303
    async with ctx.sessionmaker() as s:
        msg = (await s.execute(select(ConversationMessage).where(ConversationMessage.file_name.is_not(None)))
               ).scalar_one()
    assert msg.mime_type == "application/octet-stream" and msg.content_type == "document"
    assert msg.file_name == "x.html"
    [row] = await _outbox(ctx, "chat.reply")
    assert row.method == "sendDocument"  # not sent to the resident as a "photo" either
    _assert_attachment(await agent.get(f"/console/conversations/{conv.id}/files/{msg.id}"))
    _assert_attachment(await staff_client.get(row.payload["document"].removeprefix("http://testserver")))


async def test_signed_media_links_expire(ctx, make_client, staff_users, staff_client) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    await agent.post(f"/console/conversations/{conv.id}/file", data={"csrf_token": await token_of(agent)},
                     files={"upload": ("p.png", image_bytes(), "image/png")})
    [row] = await _outbox(ctx, "chat.reply")
    path = row.payload["photo"].removeprefix("http://testserver")
    r = await staff_client.get(path)
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    ctx.clock.advance(days=4)
    assert (await staff_client.get(path)).status_code == 404
    msg_id, _sig = path.removeprefix("/media/chat/").split("/")
    forged = f"/media/chat/{msg_id}/{int((ctx.clock.now() + timedelta(days=1)).timestamp())}-{_sig.split('-')[1]}"
    assert (await staff_client.get(forged)).status_code == 404  # the expiry is signed too

"""The handoff console over HTTP: queue, claim (R6), replies with the R14 guard, notes, transfer, files, close (R4)."""

from __future__ import annotations

import io
import types

from PIL import Image
from sqlalchemy import select

from db.enums import ConversationStatus, MessageDirection, StaffRole
from db.models import AuditLog, Conversation, ConversationMessage, OutboxNotification, Survey
from tests.support.console import queue_resident, token_of


async def _conv(ctx, conv_id) -> Conversation:
    async with ctx.sessionmaker() as s:
        return await s.get(Conversation, conv_id)


async def _outbox(ctx, kind=None) -> list[OutboxNotification]:
    async with ctx.sessionmaker() as s:
        q = select(OutboxNotification).order_by(OutboxNotification.id)
        if kind:
            q = q.where(OutboxNotification.kind == kind)
        return list((await s.execute(q)).scalars())


async def _audit(ctx, action) -> list[AuditLog]:
    async with ctx.sessionmaker() as s:
        return list((await s.execute(select(AuditLog).where(AuditLog.action == action))).scalars())


async def test_queue_lists_waiting_residents_by_priority(ctx, make_client, staff_users) -> None:
    first = await queue_resident(ctx, 10001, text="燃气表显示E3")
    async with ctx.sessionmaker() as s:
        from core import handoff
        from tests.support.console import add_resident

        await add_resident(ctx, 10003, name="张奶奶")
        from db.models import Resident

        voice = await handoff.request_handoff(s, ctx=ctx, resident=await s.get(Resident, 10003), reason="voice",
                                              priority=handoff.PRIORITY_VOICE)
    agent = await make_client("agent")
    page = await agent.get("/console/queue")
    assert page.status_code == 200
    html = page.text
    assert html.index(f'data-conversation="{voice.id}"') < html.index(f'data-conversation="{first.id}"')
    assert "燃气表显示E3" in html and "张奶奶" in html and "voice" in html
    fragment = await agent.get("/console/queue/fragment")
    assert fragment.status_code == 200 and "<html" not in fragment.text and "王建国" in fragment.text


async def test_queue_needs_login(staff_client) -> None:
    r = await staff_client.get("/console/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await staff_client.get("/console/live")
    assert r.status_code == 401


async def test_first_claim_wins_and_owns_the_chat(ctx, make_client, staff_users, agent2) -> None:
    conv = await queue_resident(ctx)
    a1, a2 = await make_client("agent"), await make_client("agent2")
    r = await a1.post(f"/console/conversations/{conv.id}/claim", data={"csrf_token": await token_of(a1)})
    assert r.status_code == 303
    r = await a2.post(f"/console/conversations/{conv.id}/claim", data={"csrf_token": await token_of(a2)})
    assert r.status_code == 404, "someone else's active chat is not even visible to another agent"
    saved = await _conv(ctx, conv.id)
    assert saved.status == ConversationStatus.active and saved.owner_id == staff_users[StaffRole.agent]
    [claim] = await _audit(ctx, "chat.claim")
    assert claim.staff_id == staff_users[StaffRole.agent] and claim.target_id == str(conv.id)
    [joined] = await _outbox(ctx, "chat.joined")
    assert "agent user" in joined.payload["text"] and joined.resident_id == 10001
    page = await a1.get(f"/console/conversations/{conv.id}")
    assert page.status_code == 200 and 'id="composer"' in page.text


async def test_claim_race_in_core(ctx, staff_users, agent2) -> None:
    import pytest

    from core import handoff
    from db.models import StaffUser

    conv = await queue_resident(ctx)
    async with ctx.sessionmaker() as s1, ctx.sessionmaker() as s2:
        u1 = await s1.get(StaffUser, staff_users[StaffRole.agent])
        u2 = await s2.get(StaffUser, agent2)
        await handoff.claim(s1, ctx=ctx, conversation_id=conv.id, staff=u1)
        with pytest.raises(handoff.HandoffError):
            await handoff.claim(s2, ctx=ctx, conversation_id=conv.id, staff=u2)


async def _claimed(ctx, staff_client, **kw):
    conv = await queue_resident(ctx, **kw)
    r = await staff_client.post(f"/console/conversations/{conv.id}/claim",
                                data={"csrf_token": await token_of(staff_client)})
    assert r.status_code == 303
    return conv


async def test_reply_goes_through_the_outbox(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    token = await token_of(agent)
    r = await agent.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": token,
                                                                          "text": "您好，请问有什么可以帮您？<b>"})
    assert r.status_code == 303
    [row] = await _outbox(ctx, "chat.reply")
    assert row.priority > 0
    assert row.payload["text"].endswith("您好，请问有什么可以帮您？&lt;b&gt;"), "agent text is escaped"
    assert [a.detail["message_id"] for a in await _audit(ctx, "chat.reply")]
    # htmx: the composer comes back empty and the transcript is told to refresh.
    r = await agent.post(f"/console/conversations/{conv.id}/reply", headers={"HX-Request": "true"},
                         data={"csrf_token": token, "text": "请稍等"})
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "live-message" and 'id="composer"' in r.text
    messages = await agent.get(f"/console/conversations/{conv.id}/messages")
    assert "请稍等" in messages.text and "<html" not in messages.text


async def test_language_guard_warns_then_override_is_logged(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    token = await token_of(agent)
    url = f"/console/conversations/{conv.id}/reply"
    r = await agent.post(url, data={"csrf_token": token, "text": "这个我不知道，你去投诉吧"})
    assert r.status_code == 422
    assert "R14" in r.text and "我不知道" in r.text and "请您稍等，我马上为您查询核实" in r.text
    assert await _outbox(ctx, "chat.reply") == [], "nothing is sent before the agent decides"

    r = await agent.post(url, headers={"HX-Request": "true"},
                         data={"csrf_token": token, "text": "这个我不知道", "action": "suggest"})
    assert r.status_code == 200 and "请您稍等，我马上为您查询核实。" in r.text and "我不知道" not in r.text.split(
        "<textarea")[1]

    r = await agent.post(url, data={"csrf_token": token, "text": "这个我不知道，你去投诉吧", "action": "override"})
    assert r.status_code == 303
    [row] = await _outbox(ctx, "chat.reply")
    assert "我不知道" in row.payload["text"]
    [override] = await _audit(ctx, "chat.guard_override")
    assert set(override.detail["phrases"]) == {"不知道", "你去找领导吧 / 你去投诉吧"}
    assert "我不知道" not in str(override.detail), "the audit log keeps which rule, not the message"
    async with ctx.sessionmaker() as s:
        msg = (await s.execute(select(ConversationMessage).where(
            ConversationMessage.direction == MessageDirection.outbound))).scalar_one()
        assert msg.guard_override is True
    hint = await agent.post("/console/guard/check", data={"csrf_token": token, "text": "whatever, hurry up"})
    assert "whatever" in hint.text and "hurry up" in hint.text.lower()


async def test_only_the_owner_can_reply_or_close(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    sup = await make_client("supervisor")
    token = await token_of(sup)
    page = await sup.get(f"/console/conversations/{conv.id}")
    assert page.status_code == 200 and 'id="composer"' not in page.text, "supervisors may read, not talk"
    r = await sup.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": token, "text": "hello"})
    assert r.status_code == 403 and "owns this conversation" in r.text
    r = await sup.post(f"/console/conversations/{conv.id}/close", data={"csrf_token": token})
    assert r.status_code == 403
    assert (await _conv(ctx, conv.id)).status == ConversationStatus.active


async def test_transfer_stays_owned_until_accepted(ctx, make_client, staff_users, agent2) -> None:
    a1, a2 = await make_client("agent"), await make_client("agent2")
    conv = await _claimed(ctx, a1)
    t1, t2 = await token_of(a1), await token_of(a2)
    r = await a1.post(f"/console/conversations/{conv.id}/transfer",
                      data={"csrf_token": t1, "to_staff_id": agent2, "note": "water billing question"})
    assert r.status_code == 303
    saved = await _conv(ctx, conv.id)
    assert saved.owner_id == staff_users[StaffRole.agent] and saved.transfer_to_id == agent2
    queue = await a2.get("/console/queue")
    assert "Transfers offered to you" in queue.text and f'data-conversation="{conv.id}"' in queue.text
    r = await a2.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": t2, "text": "hi"})
    assert r.status_code == 403, "not the owner until accepted (R6)"
    r = await a1.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": t1, "text": "请稍等"})
    assert r.status_code == 303, "the first agent still answers while the transfer is pending"

    r = await a2.post(f"/console/conversations/{conv.id}/transfer/accept", data={"csrf_token": t2})
    assert r.status_code == 303
    saved = await _conv(ctx, conv.id)
    assert saved.owner_id == agent2 and saved.transfer_to_id is None
    r = await a1.post(f"/console/conversations/{conv.id}/reply", data={"csrf_token": t1, "text": "还在吗"})
    assert r.status_code == 404
    assert [a.action for a in await _audit(ctx, "chat.transfer_accept")] == ["chat.transfer_accept"]
    assert any("Agent Two" in r.payload["text"] for r in await _outbox(ctx, "chat.joined"))


async def test_declined_transfer_keeps_the_first_owner(ctx, make_client, staff_users, agent2) -> None:
    a1, a2 = await make_client("agent"), await make_client("agent2")
    conv = await _claimed(ctx, a1)
    await a1.post(f"/console/conversations/{conv.id}/transfer", data={"csrf_token": await token_of(a1),
                                                                       "to_staff_id": agent2})
    r = await a2.post(f"/console/conversations/{conv.id}/transfer/decline", data={"csrf_token": await token_of(a2)})
    assert r.status_code == 303
    saved = await _conv(ctx, conv.id)
    assert saved.owner_id == staff_users[StaffRole.agent] and saved.transfer_to_id is None
    r = await a2.post(f"/console/conversations/{conv.id}/transfer/accept", data={"csrf_token": await token_of(a2)})
    assert r.status_code == 404


async def test_notes_are_never_sent(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    before = len(await _outbox(ctx))
    r = await agent.post(f"/console/conversations/{conv.id}/note",
                         data={"csrf_token": await token_of(agent), "text": "resident sounded upset; check meter"})
    assert r.status_code == 303
    assert len(await _outbox(ctx)) == before
    page = await agent.get(f"/console/conversations/{conv.id}")
    assert "resident sounded upset" in page.text and "Internal note" in page.text


async def test_close_sends_survey_and_queue_forgets_it(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent, language="en")
    r = await agent.post(f"/console/conversations/{conv.id}/close", data={"csrf_token": await token_of(agent)})
    assert r.status_code == 303
    assert (await _conv(ctx, conv.id)).status == ConversationStatus.closed
    [closed] = await _outbox(ctx, "chat.closed")
    assert "closed this conversation" in closed.payload["text"], "English resident gets English text"
    [survey_row] = await _outbox(ctx, "survey")
    assert "service attitude" in survey_row.payload["text"]
    async with ctx.sessionmaker() as s:
        survey = (await s.execute(select(Survey))).scalar_one()
    assert survey.staff_id == staff_users[StaffRole.agent] and survey.conversation_id == conv.id
    queue = await agent.get("/console/queue")
    assert f'data-conversation="{conv.id}"' not in queue.text
    assert (await _audit(ctx, "chat.close"))[0].target_id == str(conv.id)
    r = await agent.post(f"/console/conversations/{conv.id}/close", data={"csrf_token": await token_of(agent)})
    assert r.status_code == 409 and "closed" in r.text


async def test_checklist_and_canned_replies(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    page = await agent.get(f"/console/conversations/{conv.id}")
    assert "Canned replies" in page.text and "gas.transfer" in page.text
    r = await agent.get("/console/canned/checklist", params={"slug": "gas.transfer", "lang": "zh_Hans"})
    assert r.status_code == 200 and "新业主有效身份证原件" in r.text and "所需材料" in r.text
    r = await agent.get("/console/canned/checklist", params={"slug": "gas.transfer", "lang": "en"})
    assert "The new owner's valid ID card" in r.text
    assert (await agent.get("/console/canned/checklist", params={"slug": "nope.x"})).status_code == 404


def _image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


async def test_resident_photo_is_shown_and_agent_file_is_sent_by_signed_url(ctx, api_app, make_client, staff_users,
                                                                             staff_client) -> None:
    from core import handoff

    agent = await make_client("agent")
    conv = await _claimed(ctx, agent)
    async with ctx.sessionmaker() as s:
        photo = await handoff.relay_from_resident(s, ctx=ctx, conversation=await s.get(Conversation, conv.id),
                                                  content_type="photo", file_id="tg-photo-1", text="the meter")

    class FakeBot:
        async def get_file(self, file_id):
            assert file_id == "tg-photo-1"
            return types.SimpleNamespace(file_path="photos/file_1.jpg")

        async def download_file(self, path):
            return io.BytesIO(jpeg)

    jpeg = _image_bytes("JPEG")
    ctx.extras["bot"] = FakeBot()
    r = await agent.get(f"/console/conversations/{conv.id}/files/{photo.id}")
    # A verified photo previews inline with its real type (issue 12 F1).
    assert r.status_code == 200 and r.content == jpeg and r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-disposition"].startswith("inline;") and r.headers["x-content-type-options"] == "nosniff"

    png = _image_bytes("PNG")
    r = await agent.post(f"/console/conversations/{conv.id}/file",
                         data={"csrf_token": await token_of(agent), "caption": "示意图"},
                         files={"upload": ("diagram.png", png, "image/png")})
    assert r.status_code == 303
    [row] = [o for o in await _outbox(ctx, "chat.reply") if o.method == "sendPhoto"]
    url = row.payload["photo"]
    assert url.startswith("http://testserver/media/chat/") and "示意图" in row.payload["caption"]
    public = await staff_client.get(url.removeprefix("http://testserver"))  # Telegram has no cookie
    assert public.status_code == 200 and public.content == png
    assert public.headers["content-disposition"].startswith("attachment;")
    assert (await staff_client.get(url.removeprefix("http://testserver")[:-4] + "beef")).status_code == 404


async def test_forms_without_csrf_are_refused(ctx, make_client, staff_users) -> None:
    agent = await make_client("agent")
    conv = await queue_resident(ctx)
    r = await agent.post(f"/console/conversations/{conv.id}/claim", data={})
    assert r.status_code == 403
    assert (await _conv(ctx, conv.id)).status == ConversationStatus.queued
